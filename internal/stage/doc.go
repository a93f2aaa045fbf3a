// Package stage declares what a stage type is — the Type interface the
// engine drives — and the Registry that maps a pipeline's "type" strings to
// implementations, with the two things every stage type is written with:
// a Spec its fields decode into, and the outcomes its tasks return. Stage
// families live in subpackages (wait, judgment, variables, preconditions,
// lambda, …); this package holds no stage of its own and must not import
// the engine or the store.
//
// # Writing a stage type
//
// A stage type declares its fields once, as a struct of field types, and
// writes each task as a function that reads that struct and returns an
// outcome:
//
//	type Spec struct {
//		URL     stage.StringField `json:"url" hint:"the URL to call"`
//		Retries stage.IntField    `json:"retries" hint:"default 3"`
//	}
//
//	func (s *Spec) Check(c *stage.Checker) {
//		c.Required(&s.URL)
//		c.Range(&s.Retries, 0, 10)
//	}
//
//	func (Type) Validate(fields map[string]any) []stage.FieldError {
//		return stage.Validate(fields, &Spec{})
//	}
//
//	func (Type) Run(ctx context.Context, t *stage.Task) (stage.Result, error) {
//		var s Spec
//		if err := stage.Decode(t.Context, &s); err != nil {
//			return stage.Fail(err.Error()), nil
//		}
//		…
//		return stage.Succeed().WithOutputs(map[string]any{"status": code}), nil
//	}
//
// The Example shows a whole one; the wait stage is the smallest real one,
// and lambda's stageType runs several tasks off one spec.
//
// # Fields
//
// Spinnaker documents are loose about JSON types: Deck writes
// "memorySize": "512" and "publish": "true". The field types are weak the
// way Caddy's WeakString is: IntField, NumberField and BoolField take the
// value or its text; WeakStringField takes a string or a number. Each
// embeds Field, which says afterwards whether the stage set the field (Set),
// left it out or null (Missing), or wrote an expression (Expr).
//
// Validate decodes the fields as the pipeline document writes them, when
// the pipeline is saved. A value holding a ${…} expression is not
// type-checked then: its type is known only once the engine evaluates it
// at run time, when Decode checks it like any other. Keys a Spec does not
// name are left alone; the document keeps them.
//
// Both run the Spec's Check, which holds what field types cannot say —
// required fields, ranges, fields that go together — so the rules are
// written once for save time and run time. Every problem is a FieldError
// naming its field by path ("tracingConfig.mode", "variables[2].key").
//
// # Outcomes
//
// A task returns Succeed, Fail, RetryAfter, Wait or Skip, with
// WithOutputs and WithContext for what it learned; Result is only their
// carrier. It returns an error only for what it did not expect.
package stage
