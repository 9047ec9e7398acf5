// Package signing holds the control plane's work-order signing keys: Ed25519
// key pairs stored in PostgreSQL with their private halves sealed under a
// key-encryption key ([KEK]) that never enters the database.
//
// A [Keyring] creates, rotates, lists and retires keys; every change takes
// one advisory lock, so replicas starting at once create a single key. A
// [Signer] caches the unsealed keys and signs each [ferryv1.SignedOrder]
// with the key active at that moment; it refreshes its cache periodically
// and when told ([Signer.Poke]), which the server does on a [Channel]
// notification sent by every change.
//
// Keys belong to the installation, not to a workspace. The package never
// logs, returns or stores a private key in clear.
package signing
