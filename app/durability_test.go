package app

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as the idem server for the process
// tests: with IDEM_TEST_CHILD=1 it runs Main instead of the tests.
func TestMain(m *testing.M) {
	if os.Getenv("IDEM_TEST_CHILD") == "1" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startChild runs idem as a separate process and waits until it is ready.
func startChild(t *testing.T, dbPath, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "IDEM_TEST_CHILD=1", "IDEM_DB="+dbPath, "IDEM_ADDR="+addr, "IDEM_LOG_LEVEL=warn", "IDEM_SEED=false",
		"IDEM_ADMIN_TOKEN="+testAdminToken, "IDEM_ADMIN_PASSWORD="+testAdminPassword, "IDEM_RATE=0")
	cmd.Env = append(cmd.Env, secretKeyEnv(dbPath)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return cmd
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("child server did not become ready")
	return nil
}

// Every write acknowledged before kill -9 is there after a restart.
func TestDurableAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dbPath := filepath.Join(t.TempDir(), "idem.db")
	addr := freeAddr(t)
	child := startChild(t, dbPath, addr)
	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"resourceType":"Patient","name":[{"family":"Durable%d_%d"}]}`, w, i)
				req, _ := http.NewRequest("POST", "http://"+addr+"/fhir/Patient", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/fhir+json")
				req.Header.Set("Authorization", "Bearer "+testAdminToken)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return // the server died mid-request: not acknowledged
				}
				var m map[string]any
				json.NewDecoder(resp.Body).Decode(&m)
				resp.Body.Close()
				if resp.StatusCode == 201 {
					mu.Lock()
					acked = append(acked, m["id"].(string))
					mu.Unlock()
				}
			}
		}(w)
	}
	time.Sleep(700 * time.Millisecond)
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	close(stop)
	wg.Wait()
	if len(acked) < 10 {
		t.Fatalf("only %d writes acknowledged before the kill", len(acked))
	}
	startChild(t, dbPath, addr)
	for _, id := range acked {
		req, _ := http.NewRequest("GET", "http://"+addr+"/fhir/Patient/"+id, nil)
		req.Header.Set("Authorization", "Bearer "+testAdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("acknowledged Patient/%s lost after kill -9: %d", id, resp.StatusCode)
		}
	}
	t.Logf("%d acknowledged writes survived kill -9", len(acked))
}
