//go:build cgo

package verify

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/oneface/oneface/audit"
	"github.com/oneface/oneface/internal/testenv"
)

// auditedIssuer is an issuer whose enrolments go to a real audit log with a
// controller, so that the personal part can be exported again.
func auditedIssuer(t *testing.T, d *testDeployment, e *Engine, wrap func(*audit.Log) AuditLog) (*Issuer, *audit.Log, *age.X25519Identity) {
	t.Helper()
	controller, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	skey, _, err := audit.GenerateKey("issuer-station.example")
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(filepath.Join(t.TempDir(), "audit"), skey, audit.Options{Controller: controller.Recipient()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var sink AuditLog = l
	if wrap != nil {
		sink = wrap(l)
	}
	is, err := NewIssuer(IssuerConfig{Key: d.issuer, Secret: d.secret, Engine: e, Audit: sink, Clock: func() time.Time { return d.now }})
	if err != nil {
		t.Fatal(err)
	}
	return is, l, controller
}

// TestEnrollAudited: the issuer records the enrolment itself. The person's
// receipt verifies offline with the log's public key and says what was
// issued (kind, decision, reason, purposes, model) and to whom (reference
// ID and pseudonym, in the committed personal part, never the subject ID);
// the controller's export finds the record under the pseudonym.
func TestEnrollAudited(t *testing.T) {
	e := realEngine(t)
	d := newDeployment(t)
	d.model = e.ModelID()
	is, l, controller := auditedIssuer(t, d, e, nil)

	enr, err := is.Enroll(context.Background(), EnrollRequest{
		SubjectID: "employee-42", Photos: [][]byte{testenv.ReadLFW(t, abel1), testenv.ReadLFW(t, abel4)},
		Purposes: []string{"door-main", "lab"}, Verifiers: []*VerifierRecipient{d.verifier.Recipient()},
	})
	if err != nil {
		t.Fatal(err)
	}
	if l.Size() != 1 || enr.Receipt == nil {
		t.Fatalf("log size %d, receipt %d bytes: want one entry and a receipt", l.Size(), len(enr.Receipt))
	}
	info, err := audit.CheckReceipt(enr.Receipt, l.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	want := audit.Entry{Time: d.now, Kind: audit.KindEnroll, Purpose: "door-main+lab", Decision: audit.DecisionNone,
		Reason: "issued", ModelID: e.ModelID().String(), Liveness: "-", Notice: "-"}
	if got := info.Record.Entry; !got.Time.Equal(want.Time) || got.Kind != want.Kind || got.Purpose != want.Purpose ||
		got.Decision != want.Decision || got.Reason != want.Reason || got.ModelID != want.ModelID || got.Liveness != want.Liveness || got.Notice != want.Notice {
		t.Fatalf("entry %+v, want %+v", got, want)
	}
	if info.Personal == nil || info.Personal.ReferenceID != enr.ID || info.Personal.Subject != enr.Subject ||
		enr.Subject != d.secret.Pseudonym("employee-42") {
		t.Fatalf("personal part %+v, want reference %s subject %s", info.Personal, enr.ID, enr.Subject)
	}
	ex, err := l.Export(context.Background(), enr.Subject, controller)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Records) != 1 || ex.Records[0].Index != info.Record.Index {
		t.Fatalf("export of the subject: %d records", len(ex.Records))
	}
	// The audited reference is an ordinary one.
	r, err := d.opener(t, nil).Open(enr.Reference, "lab", "")
	if err != nil {
		t.Fatal(err)
	}
	r.Wipe()
}

// TestEnrollAuditFailClosed is the attack on the issuer station: make the
// audit write fail (disk full, log closed or failed, a purpose the log
// cannot record) and hope the station hands out a reference anyway. It
// must not: no Enrollment, an error wrapping the log's, nothing appended.
// Refused photos are not recorded either, since nothing was issued.
func TestEnrollAuditFailClosed(t *testing.T) {
	e := realEngine(t)
	d := newDeployment(t)
	d.model = e.ModelID()
	photos := [][]byte{testenv.ReadLFW(t, abel1)}
	req := func(purposes ...string) EnrollRequest {
		return EnrollRequest{SubjectID: "employee-42", Photos: photos, Purposes: purposes,
			Verifiers: []*VerifierRecipient{d.verifier.Recipient()}}
	}

	t.Run("write fails", func(t *testing.T) {
		is, l, _ := auditedIssuer(t, d, e, func(l *audit.Log) AuditLog { return &failingAudit{inner: l} })
		enr, err := is.Enroll(context.Background(), req("door-main"))
		if !errors.Is(err, errDiskFull) || enr != nil {
			t.Fatalf("failing audit store: reference returned %v, %v", enr != nil, err)
		}
		if l.Size() != 0 {
			t.Fatal("something was logged")
		}
	})
	t.Run("log closed", func(t *testing.T) {
		is, l, _ := auditedIssuer(t, d, e, nil)
		l.Close()
		enr, err := is.Enroll(context.Background(), req("door-main"))
		if !errors.Is(err, audit.ErrClosed) || enr != nil {
			t.Fatalf("closed log: reference returned %v, %v", enr != nil, err)
		}
	})
	t.Run("purposes not a token", func(t *testing.T) {
		// "door#1" is a valid purpose for a reference but not an audit
		// token: the enrolment cannot be recorded, so it is not issued;
		// the log is not harmed and records the next one.
		is, l, _ := auditedIssuer(t, d, e, nil)
		enr, err := is.Enroll(context.Background(), req("door#1"))
		if !errors.Is(err, audit.ErrMalformed) || enr != nil {
			t.Fatalf("unrecordable purpose: reference returned %v, %v", enr != nil, err)
		}
		if l.Size() != 0 {
			t.Fatal("something was logged")
		}
		if _, err := is.Enroll(context.Background(), req("door-1")); err != nil || l.Size() != 1 {
			t.Fatalf("next enrolment: %v, log size %d", err, l.Size())
		}
	})
	t.Run("refused photo", func(t *testing.T) {
		is, l, _ := auditedIssuer(t, d, e, nil)
		r := req("door-main")
		r.Photos = [][]byte{[]byte("not an image")}
		if _, err := is.Enroll(context.Background(), r); !errors.Is(err, ErrQuality) {
			t.Fatalf("unreadable photo: %v", err)
		}
		if l.Size() != 0 {
			t.Fatal("a refused enrolment was logged as issued")
		}
	})
}

// TestIssuerTypedNilAudit: a nil *audit.Log (a program that opens a log only
// when asked, then passes its variable) is refused at configuration time,
// not turned into a panic at the first enrolment, nor into "no log".
func TestIssuerTypedNilAudit(t *testing.T) {
	d := newDeployment(t)
	var l *audit.Log
	if _, err := NewIssuer(IssuerConfig{Key: d.issuer, Secret: d.secret, Engine: &Engine{model: ModelDlib}, Audit: l}); err == nil {
		t.Fatal("NewIssuer accepted a nil *audit.Log")
	}
	if _, err := NewIssuer(IssuerConfig{Key: d.issuer, Secret: d.secret, Engine: &Engine{model: ModelDlib}}); err != nil {
		t.Fatalf("no audit log: %v", err)
	}
}
