package postgres

import (
	"context"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fireflow/fireflow/internal/pgtest"
)

// openWith opens a fresh database with t's timeouts, closed at the end.
func openWith(t *testing.T, url string, tm Timeouts) *Store {
	t.Helper()
	s, err := Open(context.Background(), url, WithTimeouts(tm))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestTimeoutsReachTheServer checks on a real PostgreSQL that the
// timeouts arrive as the session's settings, that settings in the URL win,
// and that the connections carry the TCP user timeout.
func TestTimeoutsReachTheServer(t *testing.T) {
	url := pgtest.NewDatabase(t)
	tests := []struct {
		name string
		url  string
		want map[string]string
	}{
		{"from the options", url, map[string]string{
			"statement_timeout": "1500ms", "lock_timeout": "1500ms", "idle_in_transaction_session_timeout": "4s"}},
		{"the URL wins", url + "&statement_timeout=7000", map[string]string{
			"statement_timeout": "7s", "lock_timeout": "1500ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openWith(t, tt.url, Timeouts{Acquire: time.Second, Statement: 1500 * time.Millisecond, IdleInTransaction: 4 * time.Second, TCP: 9 * time.Second})
			ctx := context.Background()
			for name, want := range tt.want {
				var got string
				if err := s.pool.QueryRow(ctx, "SHOW "+name).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Errorf("%s = %s, want %s", name, got, want)
				}
			}
			conn, err := s.pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Release()
			tcp, ok := conn.Conn().PgConn().Conn().(*net.TCPConn)
			if !ok {
				t.Fatalf("the connection is a %T, not TCP", conn.Conn().PgConn().Conn())
			}
			raw, err := tcp.SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			var ms int
			var sockErr error
			if err := raw.Control(func(fd uintptr) {
				ms, sockErr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT)
			}); err != nil || sockErr != nil {
				t.Fatal(err, sockErr)
			}
			if ms != 9000 {
				t.Errorf("TCP_USER_TIMEOUT = %d ms, want 9000", ms)
			}
		})
	}
}

// TestServerTimeoutsAreUnavailable checks that a statement or a lock wait
// ended by the server's timeouts is reported as the database being
// unavailable (503), not as an internal error.
func TestServerTimeoutsAreUnavailable(t *testing.T) {
	s := openWith(t, pgtest.NewDatabase(t), Timeouts{Statement: 300 * time.Millisecond})
	ctx := context.Background()
	t.Run("statement_timeout", func(t *testing.T) {
		_, err := s.pool.Exec(ctx, "SELECT pg_sleep(5)")
		if sqlState(err) != queryCanceled || !unavailable(err) {
			t.Fatalf("got %v, want SQLSTATE %s classified as unavailable", err, queryCanceled)
		}
	})
	t.Run("lock_timeout", func(t *testing.T) {
		if _, err := s.pool.Exec(ctx, "CREATE TABLE held (id int PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
		holder, err := s.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = holder.Rollback(ctx) }()
		if _, err := holder.Exec(ctx, "LOCK TABLE held IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
		_, err = s.pool.Exec(ctx, "SELECT * FROM held")
		if sqlState(err) != lockNotAvailable && sqlState(err) != queryCanceled || !unavailable(err) {
			t.Fatalf("got %v, want a lock or statement timeout classified as unavailable", err)
		}
	})
}
