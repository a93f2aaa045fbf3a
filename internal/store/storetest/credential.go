package storetest

import (
	"sync"
	"testing"

	"github.com/sluice-cd/sluice/internal/store"
)

var credentialTests = []test{
	{"FindListRevoke", testCredentialFindListRevoke},
	{"Expiry", testCredentialExpiry},
	{"TokenNameUnique", testCredentialTokenNameUnique},
	{"TakeOnce", testCredentialTakeOnce},
	{"Purge", testCredentialPurge},
	{"RevokeParent", testCredentialRevokeParent},
}

// testCredentialRevokeParent checks that revoking a token ends the console
// sessions opened with it, and no others.
func testCredentialRevokeParent(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok := mustInsertCredential(t, s, &store.Credential{Kind: store.CredentialToken, Name: "ci", SecretHash: "tok", Subject: "token:ci"})
	mustInsertCredential(t, s, &store.Credential{Kind: store.CredentialSession, SecretHash: "child", Subject: "token:ci", ParentID: tok.ID})
	mustInsertCredential(t, s, &store.Credential{Kind: store.CredentialSession, SecretHash: "other", Subject: "ann"})
	if _, err := s.CredentialRevoke(ctx, store.CredentialToken, tok.ID, at(1)); err != nil {
		t.Fatalf("CredentialRevoke: %v", err)
	}
	_, err := s.CredentialFind(ctx, store.CredentialSession, "child", at(2))
	checkErr(t, "CredentialFind of a session opened with a revoked token", err, store.ErrNotFound)
	if _, err := s.CredentialFind(ctx, store.CredentialSession, "other", at(2)); err != nil {
		t.Errorf("CredentialFind of another session after a token's revocation: %v", err)
	}
}

func mustInsertCredential(t *testing.T, s store.Querier, c *store.Credential) *store.Credential {
	t.Helper()
	if err := s.CredentialInsert(t.Context(), c); err != nil {
		t.Fatalf("CredentialInsert(%s %q): %v", c.Kind, c.Name, err)
	}
	return c
}

func testCredentialFindListRevoke(t *testing.T, s store.Store) {
	ctx := t.Context()
	ci := mustInsertCredential(t, s, &store.Credential{Kind: store.CredentialToken, Name: "ci", SecretHash: "h-ci",
		Subject: "token:ci", Roles: []string{"deployers", "readers"}, CreatedBy: "admin", CreatedAt: at(0), ExpiresAt: ptr(at(100))})
	mustInsertCredential(t, s, &store.Credential{Kind: store.CredentialSession, SecretHash: "h-session",
		Subject: "alice", CreatedBy: "alice", CreatedAt: at(1)})
	if ci.ID == "" {
		t.Fatal("CredentialInsert left the ID empty")
	}

	got, err := s.CredentialFind(ctx, store.CredentialToken, "h-ci", at(50))
	if err != nil {
		t.Fatalf("CredentialFind: %v", err)
	}
	check(t, "CredentialFind", got, ci)
	_, err = s.CredentialFind(ctx, store.CredentialSession, "h-ci", at(50))
	checkErr(t, "CredentialFind of another kind", err, store.ErrNotFound)

	list, err := s.CredentialList(ctx, store.CredentialToken, at(50))
	if err != nil {
		t.Fatalf("CredentialList: %v", err)
	}
	check(t, "CredentialList(token)", list, []*store.Credential{ci})

	_, err = s.CredentialRevoke(ctx, store.CredentialSession, ci.ID, at(60))
	checkErr(t, "CredentialRevoke of another kind", err, store.ErrNotFound)
	revoked, err := s.CredentialRevoke(ctx, store.CredentialToken, ci.ID, at(60))
	if err != nil {
		t.Fatalf("CredentialRevoke: %v", err)
	}
	if revoked.RevokedAt == nil || !revoked.RevokedAt.Equal(at(60)) {
		t.Errorf("revoked credential has RevokedAt %v, want %v", revoked.RevokedAt, at(60))
	}
	_, err = s.CredentialFind(ctx, store.CredentialToken, "h-ci", at(61))
	checkErr(t, "CredentialFind of a revoked token", err, store.ErrNotFound)
	_, err = s.CredentialRevoke(ctx, store.CredentialToken, ci.ID, at(62))
	checkErr(t, "CredentialRevoke twice", err, store.ErrNotFound, ci.ID)
	if list, _ := s.CredentialList(ctx, store.CredentialToken, at(63)); len(list) != 0 {
		t.Errorf("CredentialList after revoke: %d tokens, want 0", len(list))
	}
}

func testCredentialExpiry(t *testing.T, s store.Store) {
	mustInsertCredential(t, s, &store.Credential{Kind: store.CredentialSession, SecretHash: "h", Subject: "bob",
		CreatedAt: at(0), ExpiresAt: ptr(at(10))})
	if _, err := s.CredentialFind(t.Context(), store.CredentialSession, "h", at(9)); err != nil {
		t.Errorf("CredentialFind before expiry: %v", err)
	}
	_, err := s.CredentialFind(t.Context(), store.CredentialSession, "h", at(10))
	checkErr(t, "CredentialFind at expiry", err, store.ErrNotFound)
}

func testCredentialTokenNameUnique(t *testing.T, s store.Store) {
	first := mustInsertCredential(t, s, &store.Credential{Kind: store.CredentialToken, Name: "ci", SecretHash: "h1", Subject: "token:ci"})
	err := s.CredentialInsert(t.Context(), &store.Credential{Kind: store.CredentialToken, Name: "ci", SecretHash: "h2", Subject: "token:ci"})
	checkErr(t, "a second token named ci", err, store.ErrConflict)
	if _, err := s.CredentialRevoke(t.Context(), store.CredentialToken, first.ID, at(1)); err != nil {
		t.Fatalf("CredentialRevoke: %v", err)
	}
	// A revoked token's name may be used again.
	mustInsertCredential(t, s, &store.Credential{Kind: store.CredentialToken, Name: "ci", SecretHash: "h3", Subject: "token:ci"})
}

// testCredentialTakeOnce checks that of many concurrent takers of one
// login link exactly one gets it.
func testCredentialTakeOnce(t *testing.T, s store.Store) {
	mustInsertCredential(t, s, &store.Credential{Kind: store.CredentialLoginLink, SecretHash: "code", Subject: "admin",
		CreatedAt: at(0), ExpiresAt: ptr(at(100))})
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		took int
	)
	for range 8 {
		wg.Go(func() {
			_, err := s.CredentialTake(t.Context(), store.CredentialLoginLink, "code", at(1))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				took++
			default:
				checkErr(t, "CredentialTake of a taken link", err, store.ErrNotFound)
			}
		})
	}
	wg.Wait()
	if took != 1 {
		t.Errorf("%d of 8 concurrent CredentialTake calls got the link; want exactly 1", took)
	}
}

func testCredentialPurge(t *testing.T, s store.Store) {
	ctx := t.Context()
	old := mustInsertCredential(t, s, &store.Credential{Kind: store.CredentialSession, SecretHash: "old", Subject: "a", CreatedAt: at(0), ExpiresAt: ptr(at(5))})
	mustInsertCredential(t, s, &store.Credential{Kind: store.CredentialSession, SecretHash: "new", Subject: "a", CreatedAt: at(0), ExpiresAt: ptr(at(50))})
	mustInsertCredential(t, s, &store.Credential{Kind: store.CredentialToken, Name: "forever", SecretHash: "tok", Subject: "token:forever", CreatedAt: at(0)})
	n, err := s.CredentialPurge(ctx, at(10))
	if err != nil {
		t.Fatalf("CredentialPurge: %v", err)
	}
	if n != 1 {
		t.Errorf("CredentialPurge removed %d credentials, want 1 (%s)", n, old.ID)
	}
	list, _ := s.CredentialList(ctx, store.CredentialSession, at(10))
	if len(list) != 1 || list[0].SecretHash != "new" {
		t.Errorf("sessions after purge: %v, want only the unexpired one", show(list))
	}
}
