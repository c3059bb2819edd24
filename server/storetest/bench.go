package storetest

import (
	"context"
	"encoding/binary"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authctl/authctl/server"
)

// BenchmarkRotate measures Rotate with (at least) 16 concurrent chains, each spending its
// latest token, and reports rotations per second.
func BenchmarkRotate(b *testing.B, st server.Store) {
	ctx := context.Background()
	now := time.Now()
	u, err := st.CreateUser(ctx, fmt.Sprintf("bench-%d", now.UnixNano()), "user", "h", now)
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	// RunParallel starts parallelism × GOMAXPROCS goroutines, one chain each.
	b.SetParallelism((16 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		chain := next.Add(1)
		sid := fmt.Sprintf("chain-%d-%d", now.UnixNano(), chain)
		tok := func(i int) []byte {
			h := make([]byte, 32)
			binary.BigEndian.PutUint64(h, uint64(now.UnixNano()))
			binary.BigEndian.PutUint64(h[8:], uint64(chain))
			binary.BigEndian.PutUint64(h[16:], uint64(i))
			return h
		}
		if err := st.CreateSession(ctx, server.Session{ID: sid, UserID: u.ID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
			server.RefreshToken{Hash: tok(0), SessionID: sid, IssuedAt: now}); err != nil {
			b.Error(err)
			return
		}
		for i := 0; pb.Next(); i++ {
			if _, err := st.Rotate(ctx, server.RotateRequest{Presented: tok(i), Next: tok(i + 1), Now: time.Now(), Grace: time.Second}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rotations/s")
}
