package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/oneface/oneface/internal/facerec"
	"github.com/oneface/oneface/internal/testenv"
)

// TestMain lets the scripts run the oneface command as a program of
// their own (testscript re-executes this test binary as "oneface").
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"oneface": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs testdata/script/*.txtar. Scripts that need the real
// engine start with `[!engine] skip`; they read the models from
// $ONEFACE_MODELDIR and the faces from $LFW (the dev set's
// lfw-deepfunneled folder) and $BUGREPORTS. Under ONEFACE_REQUIRE_ENGINE=1
// a missing engine fails them instead. $V2LOG is an audit log written by
// oneface 0.2 (audit/testdata/v2log: the log, its keys, a checkpoint and
// a receipt), for the scripts that read an old log.
//
// Commands added to the script language:
//
//	status N PROG ARGS...   run PROG; its exit status must be N
//	mode FILE PERM          FILE's permission bits must be PERM (octal)
//	lines FILE N            FILE must hold N lines
//	envfile VAR FILE        set VAR to FILE's content, white space trimmed
//	crlf IN OUT             write IN with CRLF line ends
//	wrap IN OUT             write IN as a mail client would: wrapped at 60
//	                        characters, CRLF line ends, trailing spaces, a BOM
func TestScripts(t *testing.T) {
	models := testenv.ModelDir()
	faces := testenv.FacesDir()
	lfw := filepath.Join(faces, "lfw-dev", "lfw-deepfunneled")
	bugs := filepath.Join(faces, "..", "bugreports")
	v2log, err := filepath.Abs(filepath.Join("..", "..", "audit", "testdata", "v2log"))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(e *testscript.Env) error {
			e.Setenv("ONEFACE_MODELDIR", models)
			e.Setenv("LFW", lfw)
			e.Setenv("BUGREPORTS", bugs)
			e.Setenv("V2LOG", v2log)
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if cond != "engine" {
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			_, err := facerec.CheckModels(models)
			if err == nil {
				_, err = os.Stat(filepath.Join(lfw, "Abel_Pacheco", "Abel_Pacheco_0001.jpg"))
			}
			if err != nil && os.Getenv("ONEFACE_REQUIRE_ENGINE") != "" {
				return false, fmt.Errorf("engine required (ONEFACE_REQUIRE_ENGINE): %v", err)
			}
			return err == nil, nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"status": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) < 2 {
					ts.Fatalf("usage: status N PROG ARGS...")
				}
				want, err := strconv.Atoi(args[0])
				ts.Check(err)
				got := 0
				var ee *exec.ExitError
				if err := ts.Exec(args[1], args[2:]...); errors.As(err, &ee) {
					got = ee.ExitCode()
				} else if err != nil {
					ts.Fatalf("%v", err)
				}
				if got != want {
					ts.Fatalf("exit status %d, want %d", got, want)
				}
			},
			"mode": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: mode FILE PERM")
				}
				want, err := strconv.ParseUint(args[1], 8, 32)
				ts.Check(err)
				st, err := os.Lstat(ts.MkAbs(args[0]))
				ts.Check(err)
				if got := st.Mode().Perm(); got != os.FileMode(want) {
					ts.Fatalf("%s: mode %o, want %o", args[0], got, want)
				}
			},
			"envfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: envfile VAR FILE")
				}
				ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile(args[1])))
			},
			"crlf": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: crlf IN OUT")
				}
				in := strings.ReplaceAll(ts.ReadFile(args[0]), "\n", "\r\n")
				ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(in), 0o600))
			},
			"wrap": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: wrap IN OUT")
				}
				in := strings.TrimSpace(ts.ReadFile(args[0]))
				var b strings.Builder
				b.WriteString("\ufeff\r\n")
				for i := 0; i < len(in); i += 60 {
					b.WriteString(in[i:min(i+60, len(in))] + "  \r\n")
				}
				ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(b.String()), 0o600))
			},
			"lines": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: lines FILE N")
				}
				want, err := strconv.Atoi(args[1])
				ts.Check(err)
				b, err := os.ReadFile(ts.MkAbs(args[0]))
				ts.Check(err)
				n := 0
				for _, c := range b {
					if c == '\n' {
						n++
					}
				}
				if n != want {
					ts.Fatalf("%s: %d lines, want %d", args[0], n, want)
				}
			},
		},
	})
}

// TestScriptsCoverEveryCommand: every command and audit subcommand is
// run by some script, and some script checks that it exits 2 on a usage
// error, so that a new command cannot ship without its scripts.
func TestScriptsCoverEveryCommand(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "script", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	var text strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text.Write(b)
	}
	all := text.String()
	check := func(cmd string) {
		if !strings.Contains(all, "oneface "+cmd+" ") && !strings.Contains(all, "oneface "+cmd+"\n") {
			t.Errorf("no script runs `oneface %s`", cmd)
		}
		if !strings.Contains(all, "status 2 oneface "+cmd+" ") && !strings.Contains(all, "status 2 oneface "+cmd+"\n") {
			t.Errorf("no script checks that `oneface %s` exits 2 on a usage error", cmd)
		}
	}
	for _, name := range sortedKeys(commands) {
		if name != "audit" {
			check(name)
		}
	}
	for _, name := range sortedKeys(auditCommands) {
		check("audit " + name)
	}
}
