package control

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"sort"
	"strconv"

	"github.com/google/uuid"
	"github.com/sluice-cd/sluice/internal/locallambda/awserr"
)

// Version operations: PublishVersion, ListVersionsByFunction; and the
// paging shared by the List operations.

type publishVersionRequest struct {
	CodeSha256  string  `json:"CodeSha256"`
	Description *string `json:"Description"`
	RevisionId  string  `json:"RevisionId"`
	PublishTo   string  `json:"PublishTo"`
}

func (cp *Plane) publishVersion(w http.ResponseWriter, r *http.Request) error {
	var req publishVersionRequest
	if err := decodeRequest(r, "PublishVersion", &req); err != nil {
		return err
	}
	ref, err := cp.unqualifiedRef(r.PathValue("function"))
	if err != nil {
		return err
	}
	if req.PublishTo != "" {
		return awserr.InvalidParameter("PublishTo is for Lambda Managed Instances, which the local Lambda does not support.")
	}
	if req.Description != nil && len(*req.Description) > 256 {
		return awserr.Validation(*req.Description, "description", "Member must have length less than or equal to 256")
	}
	var resp functionConfiguration
	var work *pendingWork
	err = cp.st.write(func(m *catalog) error {
		fn, err := cp.st.lookup(m, ref, "")
		if err != nil {
			return err
		}
		if req.RevisionId != "" && req.RevisionId != fn.Latest.RevisionID {
			return awserr.PreconditionFailed()
		}
		if req.CodeSha256 != "" && req.CodeSha256 != fn.Latest.CodeSha256 {
			return awserr.InvalidParameter("CodeSHA256 (%s) is different from current CodeSHA256 in $LATEST (%s). Please try again with the CodeSHA256 in $LATEST.",
				req.CodeSha256, fn.Latest.CodeSha256)
		}
		if err := cp.arns.checkUpdatable(fn); err != nil {
			return err
		}
		if fn.Latest.State == functionFailed {
			return stateConflict(fn.Latest.State)
		}
		v, created := cp.publishLocked(fn, req.Description)
		if created {
			work = &pendingWork{fn.Name, fn.ID, v.Version, v.Work}
		}
		resp = cp.arns.configuration(fn, v, v.Version, true)
		return nil
	})
	if err != nil {
		return err
	}
	if work != nil {
		cp.startActivation(*work)
	}
	return respondJSON(w, http.StatusCreated, resp)
}

// publishLocked publishes $LATEST as a new version, unless code and
// configuration are unchanged since the newest version, which it then
// returns ("Lambda doesn't publish a version if the function's
// configuration and code haven't changed since the last version"). A new
// version gets the next number — never one used before — its own code
// directory, and an activation (the caller starts it after committing).
func (cp *Plane) publishLocked(fn *lambdaFunction, description *string) (v *functionVersion, created bool) {
	if newest := fn.newestVersion(); newest != nil && newest.Fingerprint == fn.Latest.Fingerprint {
		return newest, false
	}
	fn.LastVersion++
	v = fn.Latest.clone()
	v.Version = strconv.Itoa(fn.LastVersion)
	if description != nil {
		v.Config.Description = *description
	}
	// The code directory is $LATEST's (or, for a record of an earlier
	// build, the one its code's content names): versions of the same code
	// share it, and the activation unpacks it only if it is not there.
	v.CodeDir, v.Unpacked = codeDirRel(fn.Name, fn.ID, v.CodeSha256), false
	v.State, v.StateReason, v.StateReasonCode = functionPending, "The function is being created.", "Creating"
	v.LastUpdateStatus = updateInProgress
	v.LastUpdateStatusReason, v.LastUpdateStatusReasonCode = "The function is being created.", "Creating"
	v.LastModified = cp.cfg.Clock().UTC()
	v.RevisionID = uuid.NewString()
	v.Work = uuid.NewString()
	v.Fingerprint = fn.Latest.Fingerprint
	fn.Versions[v.Version] = v
	// Publishing is a change of the function: $LATEST's RevisionId moves
	// on, as on AWS (LocalStack's parity tests show the same).
	fn.Latest.RevisionID = uuid.NewString()
	return v, true
}

func (cp *Plane) listVersionsByFunction(w http.ResponseWriter, r *http.Request) error {
	ref, err := cp.unqualifiedRef(r.PathValue("function"))
	if err != nil {
		return err
	}
	q := r.URL.Query()
	// "Returns up to 50 versions per call."
	max, err := parseMaxItems(q.Get("MaxItems"), 50, 50)
	if err != nil {
		return err
	}
	var all []functionConfiguration
	err = cp.st.read(func(m *catalog) error {
		fn, err := cp.st.lookup(m, ref, "")
		if err != nil {
			return err
		}
		all = append(all, cp.arns.configuration(fn, fn.Latest, latestQualif, true))
		for _, v := range fn.sortedVersions() {
			all = append(all, cp.arns.configuration(fn, v, v.Version, true))
		}
		return nil
	})
	if err != nil {
		return err
	}
	page, next, err := paginate(all, func(c functionConfiguration) string { return versionKey(c.Version) }, q.Get("Marker"), max)
	if err != nil {
		return err
	}
	return respondJSON(w, http.StatusOK, struct {
		Versions   []functionConfiguration `json:"Versions"`
		NextMarker string                  `json:"NextMarker,omitempty"`
	}{page, next})
}

// versionKey orders $LATEST before the versions, and versions by number.
func versionKey(v string) string {
	if v == latestQualif {
		return ""
	}
	n, _ := strconv.Atoi(v)
	return fmt.Sprintf("%020d", n)
}

// parseMaxItems reads a MaxItems query parameter (1..10000 in the model);
// absent means def, and more than limit is served as limit, as AWS caps
// its pages.
func parseMaxItems(raw string, def, limit int) (int, error) {
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0, awserr.Validation(raw, "maxItems", "Member must be an integer")
	}
	if n < 1 {
		return 0, awserr.Validation(n, "maxItems", "Member must have value greater than or equal to 1")
	}
	if n > 10000 {
		return 0, awserr.Validation(n, "maxItems", "Member must have value less than or equal to 10000")
	}
	return min(n, limit), nil
}

// paginate returns the items after the marker's position, at most max of
// them, and the marker of the next page ("" on the last page). items must
// be sorted by key. A marker is the opaque form of the last key served, so
// a page stays correct when items before it are deleted.
func paginate[T any](items []T, key func(T) string, marker string, max int) ([]T, string, error) {
	start := 0
	if marker != "" {
		raw, err := base64.RawURLEncoding.DecodeString(marker)
		if err != nil || len(raw) == 0 || raw[0] != 'k' {
			return nil, "", awserr.InvalidParameter("The Marker %q is not a marker this API returned.", marker)
		}
		after := string(raw[1:])
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) > after })
	}
	end := min(start+max, len(items))
	page := items[start:end]
	if page == nil {
		page = []T{}
	}
	next := ""
	if end < len(items) {
		next = base64.RawURLEncoding.EncodeToString([]byte("k" + key(items[end-1])))
	}
	return page, next, nil
}
