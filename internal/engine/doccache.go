package engine

import (
	"bytes"
	"sync"

	"github.com/sluice-cd/sluice/internal/pipeline"
)

// docCacheSize bounds the parsed documents kept: enough for every execution
// a busy process moves at once, a few MB at most.
const docCacheSize = 1024

// docCache keeps the parsed pipeline documents of recently loaded
// executions. Every engine step loads its execution, and parsing the
// execution's copy of the pipeline was a tenth of the engine's CPU per step;
// that copy never changes once the execution is triggered. A cached document
// is used only for the very bytes it was parsed from, so the cache cannot
// serve a stale one. The engine treats documents as read-only, which makes
// sharing one between jobs safe.
type docCache struct {
	mu   sync.Mutex
	docs map[string]cachedDoc // by execution ID
}

type cachedDoc struct {
	raw []byte
	doc *pipeline.Pipeline
}

func newDocCache() *docCache {
	return &docCache{docs: make(map[string]cachedDoc)}
}

// parse returns the parsed document of execution id, whose stored copy is
// raw.
func (c *docCache) parse(id string, raw []byte) (*pipeline.Pipeline, error) {
	c.mu.Lock()
	d, ok := c.docs[id]
	c.mu.Unlock()
	if ok && bytes.Equal(d.raw, raw) {
		return d.doc, nil
	}
	doc, err := pipeline.Parse(raw)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.docs) >= docCacheSize {
		for k := range c.docs { // Go starts map iteration at random: evict any one
			delete(c.docs, k)
			break
		}
	}
	c.docs[id] = cachedDoc{raw: raw, doc: doc}
	return doc, nil
}
