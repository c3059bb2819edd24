package server

// Hooks for the external tests (package server_test), which need a real SQLite store and so
// cannot live inside package server.

// IDKeyFunc is the signature of argon2.IDKey.
type IDKeyFunc = func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte

// SetHashFunc replaces argon2 in the Service's hasher, so that a test can count, order and
// slow down the hashes. Call it before the Service is used concurrently.
func SetHashFunc(s *Service, f IDKeyFunc) { s.hasher.idKeyFunc = f }

// SetHashSlots gives the Service's hasher n slots whatever the machine's CPUs, so that a
// fairness test means the same everywhere. Call it before the Service is used.
func SetHashSlots(s *Service, n int) { s.hasher.queue = newHashQueue(n) }

// HashLoad reports the hasher's slots in use and callers waiting.
func HashLoad(s *Service) (running, waiting int) {
	running, waiting, _ = s.hasher.queue.load()
	return running, waiting
}

// FlushLoginLog ends the login log's interval now instead of when its timer fires.
func FlushLoginLog(s *Service) { s.login.events.flush(s.log) }

// SetRevocationCap bounds the Service's revocation set at n sessions. Call it before the
// Service is used.
func SetRevocationCap(s *Service, n int) { s.revoked.max = n }
