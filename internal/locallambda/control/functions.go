package control

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
)

// Function operations: CreateFunction, GetFunction, GetFunctionConfiguration,
// ListFunctions, UpdateFunctionCode, UpdateFunctionConfiguration,
// DeleteFunction.

type createFunctionRequest struct {
	FunctionName string            `json:"FunctionName"`
	Code         *functionCode     `json:"Code"`
	Publish      bool              `json:"Publish"`
	PackageType  string            `json:"PackageType"`
	Tags         map[string]string `json:"Tags"`
	// Architectures is a create-time member (UpdateFunctionCode changes it).
	Architectures        []string `json:"Architectures"`
	CodeSigningConfigArn string   `json:"CodeSigningConfigArn"`
	PublishTo            string   `json:"PublishTo"`
	configFields
}

// unqualifiedRef parses a FunctionName that must not carry a qualifier
// (the model's pattern for these operations has none).
func (cp *Plane) unqualifiedRef(raw string) (functionRef, error) {
	ref, err := cp.arns.parseFunctionName(raw)
	if err != nil {
		return ref, err
	}
	if ref.Qualifier != "" {
		return ref, awserr.Validation(raw, "functionName", "Member must satisfy regular expression pattern: "+
			`(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)`)
	}
	return ref, nil
}

// createFunction is CreateFunction: check the request, store its package,
// commit the new function (Pending, with its first version if Publish),
// then start the activations that make it Active.
func (cp *Plane) createFunction(w http.ResponseWriter, r *http.Request) error {
	var req createFunctionRequest
	zip, err := cp.decodeCodeRequest(r, "CreateFunction", []string{"Code", "ZipFile"}, &req)
	if err != nil {
		return err
	}
	name, cfg, err := cp.checkCreate(&req)
	if err == nil {
		// Refuse a taken name before checking the package; the commit
		// checks again, under the write lock, where it counts.
		err = cp.st.read(func(m *catalog) error { return nameFree(m, name) })
	}
	if err != nil {
		zip.abort()
		return err
	}
	req.Code.zip = zip
	pkg, err := cp.loadPackage(*req.Code)
	if err != nil {
		return err
	}
	defer pkg.discard()
	id := uuid.NewString()
	zipRel, unpin, err := cp.storeZip(name, id, pkg)
	if err != nil {
		return err
	}
	defer unpin()
	fn := newFunction(name, id, cfg, req.Tags, pkg, zipRel, cp.cfg.Clock().UTC())
	resp, work, err := cp.insertFunction(fn, req.Publish)
	if err != nil {
		unpin()
		cp.collectFunctionGarbage(name)
		return err
	}
	for _, p := range work {
		cp.startActivation(p)
	}
	return respondJSON(w, http.StatusCreated, resp)
}

// checkCreate checks a CreateFunction request, in the order AWS reports
// its errors, and returns the function's name and its configuration: AWS's
// defaults with the request's members applied.
func (cp *Plane) checkCreate(req *createFunctionRequest) (string, functionConfig, error) {
	if req.FunctionName == "" {
		return "", functionConfig{}, awserr.Validation("null", "functionName", "Member must not be null")
	}
	ref, err := cp.unqualifiedRef(req.FunctionName)
	if err != nil {
		return "", functionConfig{}, err
	}
	switch {
	case req.Role == nil:
		err = awserr.Validation("null", "role", "Member must not be null")
	case req.Code == nil:
		err = awserr.Validation("null", "code", "Member must not be null")
	case req.PackageType == "Image":
		err = awserr.InvalidParameter("PackageType Image is not supported by the local Lambda: container images are not supported; deploy a .zip package (PackageType Zip).")
	case req.PackageType != "" && req.PackageType != "Zip":
		err = awserr.Validation(req.PackageType, "packageType", "Member must satisfy enum value set: [Zip, Image]")
	case req.CodeSigningConfigArn != "":
		err = awserr.InvalidParameter("Code signing (CodeSigningConfigArn) is not supported by the local Lambda.")
	case req.PublishTo != "":
		err = awserr.InvalidParameter("PublishTo is for Lambda Managed Instances, which the local Lambda does not support.")
	default:
		err = req.checkSupported()
	}
	if err != nil {
		return "", functionConfig{}, err
	}
	cfg := defaultConfig(ref.Name)
	req.apply(&cfg)
	if req.Architectures != nil {
		cfg.Architectures = slices.Clone(req.Architectures)
	}
	if err := validateConfig(&cfg); err != nil {
		return "", functionConfig{}, err
	}
	if err := validateTags(req.Tags, 0); err != nil {
		return "", functionConfig{}, err
	}
	return ref.Name, cfg, nil
}

// nameFree answers AWS's conflict if a function of that name exists.
func nameFree(m *catalog, name string) error {
	if m.Functions[name] != nil {
		return awserr.ResourceConflict("Function already exist: %s", name)
	}
	return nil
}

// newFunction is a function as CreateFunction makes it: $LATEST Pending,
// its code in a directory of its own and an activation to run.
func newFunction(name, id string, cfg functionConfig, tags map[string]string, pkg *codePackage, zipRel string, now time.Time) *lambdaFunction {
	latest := &functionVersion{
		Version:                    latestQualif,
		Config:                     cfg,
		CodeSha256:                 pkg.sha256,
		CodeSize:                   pkg.size,
		CodeZip:                    zipRel,
		CodeDir:                    codeDirRel(name, id, pkg.sha256),
		State:                      functionPending,
		StateReason:                "The function is being created.",
		StateReasonCode:            "Creating",
		LastUpdateStatus:           updateInProgress,
		LastUpdateStatusReason:     "The function is being created.",
		LastUpdateStatusReasonCode: "Creating",
		LastModified:               now,
		RevisionID:                 uuid.NewString(),
		Work:                       uuid.NewString(),
	}
	latest.Fingerprint = latest.fingerprint()
	return &lambdaFunction{
		Name: name, ID: id, Latest: latest,
		Versions: map[string]*functionVersion{}, Aliases: map[string]*functionAlias{},
		Tags: tags, Created: now,
	}
}

// insertFunction commits fn, and with publish its first version, and
// returns the answer (the published version's configuration if there is
// one) and the activations to start once committed.
func (cp *Plane) insertFunction(fn *lambdaFunction, publish bool) (functionConfiguration, []pendingWork, error) {
	var resp functionConfiguration
	var work []pendingWork
	err := cp.st.write(func(m *catalog) error {
		if err := nameFree(m, fn.Name); err != nil {
			return err
		}
		m.touchFunction(fn.Name)
		m.Functions[fn.Name] = fn
		work = append(work, pendingWork{fn.Name, fn.ID, latestQualif, fn.Latest.Work})
		resp = cp.arns.configuration(fn, fn.Latest, "", true)
		if publish {
			v, created := cp.publishLocked(fn, nil)
			if created {
				work = append(work, pendingWork{fn.Name, fn.ID, v.Version, v.Work})
			}
			resp = cp.arns.configuration(fn, v, "", true)
		}
		return nil
	})
	return resp, work, err
}

// getFunctionResponse is GetFunction's answer.
type getFunctionResponse struct {
	Configuration functionConfiguration `json:"Configuration"`
	Code          codeLocation          `json:"Code"`
	Tags          map[string]string     `json:"Tags,omitempty"`
	Concurrency   *concurrencyJSON      `json:"Concurrency,omitempty"`
}

type codeLocation struct {
	RepositoryType string `json:"RepositoryType"`
	Location       string `json:"Location"`
}

// requestFunction parses a FunctionName path parameter and the Qualifier
// query parameter, and finds the function; the qualifier is not checked.
func (cp *Plane) requestFunction(m *catalog, r *http.Request) (*lambdaFunction, string, error) {
	ref, err := cp.arns.parseFunctionName(r.PathValue("function"))
	if err != nil {
		return nil, "", err
	}
	q, err := mergeQualifier(ref.Qualifier, r.URL.Query().Get("Qualifier"))
	if err != nil {
		return nil, "", err
	}
	fn, err := cp.st.lookup(m, ref, q)
	if err != nil {
		return nil, "", err
	}
	return fn, q, nil
}

// resolveRequest finds the function and the version that a request's
// FunctionName and Qualifier name.
func (cp *Plane) resolveRequest(m *catalog, r *http.Request) (*lambdaFunction, *functionVersion, string, error) {
	fn, q, err := cp.requestFunction(m, r)
	if err != nil {
		return nil, nil, "", err
	}
	v, _, err := cp.st.resolveQualifier(fn, q)
	if err != nil {
		return nil, nil, "", err
	}
	return fn, v, q, nil
}

func (cp *Plane) getFunction(w http.ResponseWriter, r *http.Request) error {
	var resp getFunctionResponse
	err := cp.st.read(func(m *catalog) error {
		fn, v, q, err := cp.resolveRequest(m, r)
		if err != nil {
			return err
		}
		resp.Configuration = cp.arns.configuration(fn, v, q, true)
		resp.Code = codeLocation{
			RepositoryType: "S3",
			Location: "http://" + r.Host + codePathPrefix + url.PathEscape(fn.Name) +
				"/code/" + strings.TrimSuffix(filepath.Base(v.CodeZip), ".zip") + ".zip",
		}
		if len(fn.Tags) > 0 {
			resp.Tags = fn.Tags
		}
		if fn.ReservedConcurrency != nil {
			resp.Concurrency = &concurrencyJSON{ReservedConcurrentExecutions: fn.ReservedConcurrency}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return respondJSON(w, http.StatusOK, resp)
}

func (cp *Plane) getFunctionConfiguration(w http.ResponseWriter, r *http.Request) error {
	var resp functionConfiguration
	err := cp.st.read(func(m *catalog) error {
		fn, v, q, err := cp.resolveRequest(m, r)
		if err != nil {
			return err
		}
		resp = cp.arns.configuration(fn, v, q, true)
		return nil
	})
	if err != nil {
		return err
	}
	return respondJSON(w, http.StatusOK, resp)
}

func (cp *Plane) listFunctions(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	all := false
	switch fv := q.Get("FunctionVersion"); fv {
	case "":
	case "ALL":
		all = true
	default:
		return awserr.Validation(fv, "functionVersion", "Member must satisfy enum value set: [ALL]")
	}
	if q.Get("MasterRegion") != "" {
		return awserr.InvalidParameter("Lambda@Edge replicas (MasterRegion) are not supported by the local Lambda.")
	}
	// "ListFunctions returns a maximum of 50 items in each response, even
	// if you set the number higher."
	max, err := parseMaxItems(q.Get("MaxItems"), 50, 50)
	if err != nil {
		return err
	}
	type item struct {
		key  string
		conf functionConfiguration
	}
	var items []item
	_ = cp.st.read(func(m *catalog) error {
		for _, fn := range m.Functions {
			items = append(items, item{fn.Name + "\x00", cp.arns.configuration(fn, fn.Latest, "", false)})
			if all {
				for _, v := range fn.Versions {
					items = append(items, item{fn.Name + "\x00" + versionKey(v.Version), cp.arns.configuration(fn, v, v.Version, false)})
				}
			}
		}
		return nil
	})
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.key, b.key) })
	page, next, err := paginate(items, func(i item) string { return i.key }, q.Get("Marker"), max)
	if err != nil {
		return err
	}
	resp := struct {
		Functions  []functionConfiguration `json:"Functions"`
		NextMarker string                  `json:"NextMarker,omitempty"`
	}{Functions: []functionConfiguration{}, NextMarker: next}
	for _, it := range page {
		resp.Functions = append(resp.Functions, it.conf)
	}
	return respondJSON(w, http.StatusOK, resp)
}

type updateFunctionCodeRequest struct {
	functionCode
	Publish       bool     `json:"Publish"`
	DryRun        bool     `json:"DryRun"`
	RevisionId    string   `json:"RevisionId"`
	Architectures []string `json:"Architectures"`
	PublishTo     string   `json:"PublishTo"`
}

func (cp *Plane) updateFunctionCode(w http.ResponseWriter, r *http.Request) error {
	var req updateFunctionCodeRequest
	zip, err := cp.decodeCodeRequest(r, "UpdateFunctionCode", []string{"ZipFile"}, &req)
	if err != nil {
		return err
	}
	// loadPackage takes it over; until then, every return removes it.
	defer func() { zip.abort() }()
	ref, err := cp.unqualifiedRef(r.PathValue("function"))
	if err != nil {
		return err
	}
	if req.PublishTo != "" {
		return awserr.InvalidParameter("PublishTo is for Lambda Managed Instances, which the local Lambda does not support.")
	}
	if req.Architectures != nil {
		c := functionConfig{Architectures: req.Architectures}
		if len(c.Architectures) != 1 || (c.Architectures[0] != "x86_64" && c.Architectures[0] != "arm64") {
			return awserr.Validation("["+strings.Join(req.Architectures, ", ")+"]", "architectures",
				"Member must have length 1 and satisfy enum value set: [x86_64, arm64]")
		}
	}
	// Check what can be checked before reading the package, then again
	// under the write lock, where it counts.
	var id string
	check := func(m *catalog) (*lambdaFunction, error) {
		fn, err := cp.st.lookup(m, ref, "")
		if err != nil {
			return nil, err
		}
		if id != "" && fn.ID != id {
			return nil, awserr.ResourceConflict("The function %s was deleted and created again during this update; retry it.", ref.Name)
		}
		if req.RevisionId != "" && req.RevisionId != fn.Latest.RevisionID {
			return nil, awserr.PreconditionFailed()
		}
		return fn, cp.arns.checkUpdatable(fn)
	}
	if err := cp.st.read(func(m *catalog) error {
		fn, err := check(m)
		if fn != nil {
			id = fn.ID
		}
		return err
	}); err != nil {
		return err
	}
	req.functionCode.zip, zip = zip, nil
	pkg, err := cp.loadPackage(req.functionCode)
	if err != nil {
		return err
	}
	defer pkg.discard()
	if req.DryRun {
		var resp functionConfiguration
		err := cp.st.read(func(m *catalog) error {
			fn, err := check(m)
			if err != nil {
				return err
			}
			resp = cp.arns.configuration(fn, fn.Latest, "", true)
			return nil
		})
		if err != nil {
			return err
		}
		return respondJSON(w, http.StatusOK, resp)
	}
	zipRel, unpin, err := cp.storeZip(ref.Name, id, pkg)
	if err != nil {
		return err
	}
	defer unpin()

	var resp functionConfiguration
	var work []pendingWork
	err = cp.st.write(func(m *catalog) error {
		fn, err := check(m)
		if err != nil {
			return err
		}
		v := fn.Latest
		v.CodeSha256, v.CodeSize, v.CodeZip = pkg.sha256, pkg.size, zipRel
		v.CodeDir, v.Unpacked = codeDirRel(fn.Name, fn.ID, pkg.sha256), false
		if req.Architectures != nil {
			v.Config.Architectures = slices.Clone(req.Architectures)
		}
		cp.beginUpdate(fn)
		work = append(work, pendingWork{fn.Name, fn.ID, latestQualif, v.Work})
		resp = cp.arns.configuration(fn, v, "", true)
		if req.Publish {
			pv, created := cp.publishLocked(fn, nil)
			if created {
				work = append(work, pendingWork{fn.Name, fn.ID, pv.Version, pv.Work})
			}
			resp = cp.arns.configuration(fn, pv, pv.Version, true)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range work {
		cp.startActivation(p)
	}
	return respondJSON(w, http.StatusOK, resp)
}

// beginUpdate marks $LATEST as updating after its code or configuration
// changed: LastUpdateStatus InProgress (a function whose creation failed
// goes back to Pending), a new RevisionId, and an activation to run.
func (cp *Plane) beginUpdate(fn *lambdaFunction) {
	v := fn.Latest
	if v.State == functionFailed {
		v.State, v.StateReason, v.StateReasonCode = functionPending, "The function is being created.", "Creating"
	}
	v.LastUpdateStatus = updateInProgress
	v.LastUpdateStatusReason = "The function is being created."
	v.LastUpdateStatusReasonCode = "Creating"
	v.LastModified = cp.cfg.Clock().UTC()
	v.RevisionID = uuid.NewString()
	v.Work = uuid.NewString()
	v.Fingerprint = v.fingerprint()
}

type updateFunctionConfigurationRequest struct {
	RevisionId string `json:"RevisionId"`
	configFields
}

func (cp *Plane) updateFunctionConfiguration(w http.ResponseWriter, r *http.Request) error {
	var req updateFunctionConfigurationRequest
	if err := decodeRequest(r, "UpdateFunctionConfiguration", &req); err != nil {
		return err
	}
	ref, err := cp.unqualifiedRef(r.PathValue("function"))
	if err != nil {
		return err
	}
	if err := req.checkSupported(); err != nil {
		return err
	}
	var resp functionConfiguration
	var work pendingWork
	err = cp.st.write(func(m *catalog) error {
		fn, err := cp.st.lookup(m, ref, "")
		if err != nil {
			return err
		}
		if req.RevisionId != "" && req.RevisionId != fn.Latest.RevisionID {
			return awserr.PreconditionFailed()
		}
		if err := cp.arns.checkUpdatable(fn); err != nil {
			return err
		}
		cfg := fn.Latest.clone().Config
		req.apply(&cfg)
		if err := validateConfig(&cfg); err != nil {
			return err
		}
		fn.Latest.Config = cfg
		cp.beginUpdate(fn)
		work = pendingWork{fn.Name, fn.ID, latestQualif, fn.Latest.Work}
		resp = cp.arns.configuration(fn, fn.Latest, "", true)
		return nil
	})
	if err != nil {
		return err
	}
	cp.startActivation(work)
	return respondJSON(w, http.StatusOK, resp)
}

func (cp *Plane) deleteFunction(w http.ResponseWriter, r *http.Request) error {
	ref, err := cp.arns.parseFunctionName(r.PathValue("function"))
	if err != nil {
		return err
	}
	q, err := mergeQualifier(ref.Qualifier, r.URL.Query().Get("Qualifier"))
	if err != nil {
		return err
	}
	switch {
	case q == "":
		var id string
		err := cp.st.write(func(m *catalog) error {
			fn, err := cp.st.lookup(m, ref, "")
			if err != nil {
				return err
			}
			id = fn.ID
			delete(m.Functions, fn.Name)
			return nil
		})
		if err != nil {
			return err
		}
		cp.dp.Retire(ref.Name, "")
		cp.removeAll(functionDirRel(ref.Name, id))
		_ = os.Remove(cp.abs(filepath.Join("functions", ref.Name))) // only if empty
		return respondEmpty(w, http.StatusNoContent)
	case q == latestQualif:
		return awserr.InvalidParameter("$LATEST version cannot be deleted without deleting the function.")
	case !isVersionQualifier(q):
		return awserr.InvalidParameter("Deletion of aliases is not currently supported. Use DeleteAlias to delete alias %s.", q)
	}
	deleted := false
	err = cp.st.write(func(m *catalog) error {
		fn, err := cp.st.lookup(m, ref, "")
		if err != nil {
			return err
		}
		if fn.Versions[q] == nil {
			return nil // deleting a version that does not exist is a 204 on AWS
		}
		if names := fn.aliasesReferencing(q); len(names) > 0 {
			return awserr.ResourceConflict("Unable to delete version because the following aliases reference it: [%s]", strings.Join(names, ", "))
		}
		delete(fn.Versions, q)
		delete(fn.EventInvokeConfigs, q)
		delete(fn.Policies, q)
		deleted = true
		return nil
	})
	if err != nil {
		return err
	}
	if deleted {
		cp.dp.Retire(ref.Name, q)
		cp.collectFunctionGarbage(ref.Name)
	}
	return respondEmpty(w, http.StatusNoContent)
}
