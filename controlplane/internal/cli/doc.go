// Package cli is the client side of the ferry command: a small subcommand
// dispatcher built on the standard flag package, and the commands that talk
// to a Ferry server over the Connect API (apply, run, pool, deployment,
// agent, agent token, version).
//
// Every command reads its connection settings from flags with FERRY_*
// environment fallbacks: --server (FERRY_SERVER), --api-key (FERRY_API_KEY,
// else the file admin-api-key in the data directory) and --data-dir
// (FERRY_DATA_DIR). The API key travels only in the Authorization header.
//
// Read commands take --output table (the default) or --output json. JSON
// output is protojson, one object per line (JSON Lines): a list prints one
// line per item, a single object prints one line. Hints meant for people,
// such as the next page token, go to stderr so stdout stays machine-readable.
//
// The package never touches process-wide state: output, input and the
// environment come in through [Env], and signals are the caller's business
// (cancel the context on SIGINT; a command that is watching a run then stops
// watching and says how to cancel the run).
package cli
