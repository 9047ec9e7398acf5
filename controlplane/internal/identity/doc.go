// Package identity authenticates people: argon2id password hashes, login
// with per-account and per-address limits on failures, sessions, and the
// optional owner account created on first start. It issues session tokens
// and stores only their keyed hash; it never logs or stores a password or a
// token in clear.
package identity
