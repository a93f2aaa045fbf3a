package control

import (
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/sluice-cd/sluice/internal/locallambda/restapi"
)

// AliasChange is one change of an alias the control plane made: a
// CreateAlias, an UpdateAlias or a DeleteAlias, with what the alias routed
// after it. Every change has a new RevisionId; a delete has none.
type AliasChange struct {
	Seq             uint64             `json:"seq"` // 1 for the first change since the local Lambda started
	Time            time.Time          `json:"time"`
	Operation       string             `json:"operation"` // CreateAlias, UpdateAlias or DeleteAlias
	FunctionVersion string             `json:"functionVersion,omitempty"`
	Weights         map[string]float64 `json:"additionalVersionWeights,omitempty"`
	RevisionID      string             `json:"revisionId,omitempty"`
}

// maxAliasChanges bounds the changes kept per alias; the oldest go first.
const maxAliasChanges = 1000

// aliasHistory keeps, in memory, the changes of every alias since the
// local Lambda started, so that a test (or a person) can see each change
// an alias went through — a poll of GetAlias misses one that was undone
// between two looks. It is not persisted: a restart starts it empty.
type aliasHistory struct {
	mu      sync.Mutex
	seq     uint64
	changes map[string][]AliasChange // by function name + "\x00" + alias name
}

// record adds a change of alias of function fn; called inside the
// catalog's write, so the order is the order of the changes.
func (h *aliasHistory) record(now time.Time, fn, alias, op string, al *functionAlias) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.changes == nil {
		h.changes = map[string][]AliasChange{}
	}
	h.seq++
	c := AliasChange{Seq: h.seq, Time: now.UTC(), Operation: op}
	if al != nil {
		c.FunctionVersion, c.Weights, c.RevisionID = al.FunctionVersion, maps.Clone(al.Weights), al.RevisionID
	}
	key := fn + "\x00" + alias
	list := append(h.changes[key], c)
	if len(list) > maxAliasChanges {
		list = list[len(list)-maxAliasChanges:]
	}
	h.changes[key] = list
}

// AliasHistory returns the changes of alias of function fn (its name)
// since the local Lambda started, oldest first.
func (cp *Plane) AliasHistory(fn, alias string) []AliasChange {
	cp.aliases.mu.Lock()
	defer cp.aliases.mu.Unlock()
	return append([]AliasChange{}, cp.aliases.changes[fn+"\x00"+alias]...)
}

// AliasHistoryPath is where AliasHistoryRoute answers.
const AliasHistoryPath = "/_locallambda/functions/{function}/aliases/{alias}/history"

// AliasHistoryRoute answers GET /_locallambda/functions/NAME/aliases/ALIAS/history
// with the alias's changes since the local Lambda started (AliasHistory),
// as {"changes": [...]}: an empty list for an alias never changed.
func (cp *Plane) AliasHistoryRoute() restapi.Route {
	return restapi.Route{Method: "GET", Path: AliasHistoryPath, Op: "GetAliasHistory", Raw: true,
		Handle: func(w http.ResponseWriter, r *http.Request) error {
			return respondJSON(w, http.StatusOK, struct {
				Changes []AliasChange `json:"changes"`
			}{cp.AliasHistory(r.PathValue("function"), r.PathValue("alias"))})
		}}
}
