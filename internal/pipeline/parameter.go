package pipeline

// Parameter is one entry of the pipeline's parameterConfig: a value the
// trigger supplies, seen by expressions as parameters.<Name>.
type Parameter struct {
	Name        string
	Label       string
	Description string
	// Default fills the parameter when the trigger leaves it out.
	Default any
	// Required rejects a trigger that gives no value and there is no default.
	Required bool
	// HasOptions limits the value to one of Options.
	HasOptions bool
	Options    []ParameterOption
	Pinned     bool
	// Condition shows the parameter only when another parameter has a
	// given value (Deck's {parameter, comparator, value}).
	Condition map[string]any
	// Extra holds the keys Sluice does not know, and known keys whose value
	// has the wrong JSON type, as written.
	Extra map[string]any
}

// ParameterOption is one allowed value of a parameter.
type ParameterOption struct {
	// Value is the option's value; numbers and booleans are written as
	// their JSON text.
	Value string
	// Extra holds the option's other keys, as written.
	Extra map[string]any
}

// decodeParameter reads a parameterConfig entry. Values of the wrong JSON
// type go to Extra.
func decodeParameter(m map[string]any) Parameter {
	p := Parameter{Extra: map[string]any{}}
	for k, v := range m {
		ok := true
		switch k {
		case "name":
			ok = setString(&p.Name, v)
		case "label":
			ok = setString(&p.Label, v)
		case "description":
			ok = setString(&p.Description, v)
		case "default":
			p.Default = v
		case "required":
			ok = setBool(&p.Required, v)
		case "hasOptions":
			ok = setBool(&p.HasOptions, v)
		case "pinned":
			ok = setBool(&p.Pinned, v)
		case "options":
			p.Options, ok = decodeOptions(v)
		case "condition":
			switch c := v.(type) {
			case nil:
			case map[string]any:
				p.Condition = c
			default:
				ok = false
			}
		default:
			ok = false
		}
		if !ok {
			p.Extra[k] = v
		}
	}
	return p
}

// decodeOptions reads a list of {"value": …} objects; ok is false when v is
// not one.
func decodeOptions(v any) (opts []ParameterOption, ok bool) {
	if v == nil {
		return nil, true
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	opts = make([]ParameterOption, 0, len(list))
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, false
		}
		var o ParameterOption
		for k, v := range m {
			if k != "value" {
				if o.Extra == nil {
					o.Extra = map[string]any{}
				}
				o.Extra[k] = v
				continue
			}
			switch v := v.(type) {
			case nil:
			case string:
				o.Value = v
			case bool:
				o.Value = "false"
				if v {
					o.Value = "true"
				}
			default:
				s, ok := refString(v)
				if !ok {
					return nil, false
				}
				o.Value = s
			}
		}
		opts = append(opts, o)
	}
	return opts, true
}

// hasRealOptions reports whether any option has a value. Deck writes
// [{"value": ""}] for a parameter without options.
func (p *Parameter) hasRealOptions() bool {
	for _, o := range p.Options {
		if o.Value != "" {
			return true
		}
	}
	return false
}

// MarshalJSON emits the parameter in Deck's spelling.
func (p Parameter) MarshalJSON() ([]byte, error) {
	return encode(p.document())
}

func (p *Parameter) document() map[string]any {
	out := copyMap(p.Extra)
	set := func(key string, v any) {
		if _, kept := p.Extra[key]; !kept {
			out[key] = v
		}
	}
	set("name", p.Name)
	if p.Label != "" {
		set("label", p.Label)
	}
	if p.Description != "" {
		set("description", p.Description)
	}
	if p.Default != nil {
		set("default", p.Default)
	}
	set("required", p.Required)
	set("hasOptions", p.HasOptions)
	set("pinned", p.Pinned)
	if p.Options != nil {
		opts := make([]any, len(p.Options))
		for i, o := range p.Options {
			m := copyMap(o.Extra)
			m["value"] = o.Value
			opts[i] = m
		}
		set("options", opts)
	}
	if p.Condition != nil {
		set("condition", p.Condition)
	}
	return out
}

// setString stores v in dst when it is a string or null.
func setString(dst *string, v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		*dst = v
		return true
	}
	return false
}

// setBool stores v in dst when it is a boolean; null leaves dst alone.
func setBool(dst *bool, v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		*dst = v
		return true
	}
	return false
}
