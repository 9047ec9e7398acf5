import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState, type UIEvent } from "react";
import { Code, ConnectError } from "@connectrpc/connect";
import { useClient } from "../../api/clients";
import { LogStream, RunService, type LogLine } from "../../gen/ferry/v1/run_pb";
import { ErrorNotice } from "../../components/Notice";
import { appendLines, emptyLog, filterLines, highlight, lineKey, maxLogLines } from "./logs";

/** Codes after which reconnecting cannot help. */
const fatal = new Set([Code.NotFound, Code.InvalidArgument, Code.PermissionDenied, Code.Unauthenticated, Code.Unimplemented]);

/** How close to the bottom (in pixels) still counts as at the bottom. */
const bottomSlack = 24;

type Status = "connecting" | "live" | "ended" | "retrying" | "failed";

/** Streams a run's log with FollowRunLogs, keeping the last lines in
 * memory. attempt restarts the follow when a retry begins a new attempt;
 * the stream resumes after the last line it delivered. */
export const LogTail = memo(function LogTail({ runId, attempt }: { runId: string; attempt: number }) {
  const client = useClient(RunService);
  const [buf, setBuf] = useState(emptyLog);
  const [status, setStatus] = useState<Status>("connecting");
  const [error, setError] = useState<unknown>(null);
  const [follow, setFollow] = useState(true);
  const [query, setQuery] = useState("");
  const token = useRef("");
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const ac = new AbortController();
    const run = async () => {
      let backoff = 1_000;
      while (!ac.signal.aborted) {
        try {
          setStatus("live");
          for await (const r of client.followRunLogs({ id: runId, pageToken: token.current }, { signal: ac.signal })) {
            if (r.pageToken !== "") token.current = r.pageToken;
            setBuf((b) => appendLines(b, r.lines));
            setError(null);
            backoff = 1_000;
          }
          if (!ac.signal.aborted) setStatus("ended");
          return;
        } catch (err) {
          if (ac.signal.aborted) return;
          setError(err);
          if (fatal.has(ConnectError.from(err).code)) {
            setStatus("failed");
            return;
          }
          setStatus("retrying");
          await new Promise((ok) => {
            const t = setTimeout(ok, backoff);
            ac.signal.addEventListener("abort", () => clearTimeout(t), { once: true });
          });
          backoff = Math.min(backoff * 2, 15_000);
        }
      }
    };
    void run();
    return () => ac.abort();
  }, [client, runId, attempt]);

  const shown = useMemo(() => filterLines(buf.lines, query), [buf, query]);

  // While following, keep the newest line in view.
  useLayoutEffect(() => {
    const el = box.current;
    if (follow && el) el.scrollTop = el.scrollHeight;
  }, [follow, shown]);

  // Scrolling up stops following; scrolling back to the bottom resumes it.
  const onScroll = (e: UIEvent<HTMLDivElement>) => {
    const el = e.currentTarget;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight <= bottomSlack;
    if (atBottom !== follow) setFollow(atBottom);
  };

  return (
    <section aria-labelledby="log-h" className="log-tail">
      <div className="log-toolbar">
        <h2 id="log-h">Log</h2>
        <label className="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
          Follow
        </label>
        <label className="log-search">
          Search the log
          <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} placeholder="Text to find" />
        </label>
        <span className="hint" role="status">
          {statusText(status)}
          {query !== "" && ` · ${shown.length} of ${buf.lines.length} lines match`}
        </span>
      </div>
      {buf.dropped > 0 && (
        <p className="hint">
          {buf.dropped.toLocaleString()} older line{buf.dropped === 1 ? " is" : "s are"} not shown: this page keeps the last {maxLogLines.toLocaleString()}. Read the
          whole log with <code>ferry run logs {runId}</code>.
        </p>
      )}
      {error !== null && status !== "live" && (
        <ErrorNotice error={error} what={status === "retrying" ? "The log stream was interrupted; reconnecting" : "Cannot read the log"} />
      )}
      <div ref={box} className="log" role="log" aria-label="Run log" tabIndex={0} onScroll={onScroll}>
        {buf.lines.length === 0 ? (
          <div className="log-line system">{status === "ended" ? "The run wrote no output." : "No output yet; lines appear here as the run writes them."}</div>
        ) : shown.length === 0 ? (
          <div className="log-line system">No line contains “{query}”.</div>
        ) : (
          shown.map((l, i) => <Line key={lineKey(l)} line={l} query={query} newAttempt={i > 0 && shown[i - 1]!.attempt !== l.attempt} />)
        )}
      </div>
    </section>
  );
});

function statusText(s: Status): string {
  switch (s) {
    case "connecting":
      return "Connecting…";
    case "live":
      return "Live";
    case "ended":
      return "End of log: the run has ended";
    case "retrying":
      return "Reconnecting…";
    case "failed":
      return "Stopped";
  }
}

const streamClass: Partial<Record<LogStream, string>> = {
  [LogStream.STDERR]: "stderr",
  [LogStream.SYSTEM]: "system",
};

function Line({ line, query, newAttempt }: { line: LogLine; query: string; newAttempt: boolean }) {
  return (
    <>
      {newAttempt && <div className="log-line system log-attempt">── attempt {line.attempt} ──</div>}
      <div className={`log-line ${streamClass[line.stream] ?? ""}`} title={streamClass[line.stream]}>
        {highlight(line.text, query).map((s, i) => (s.match ? <mark key={i}>{s.text}</mark> : s.text))}
        {line.truncated && <span className="hint"> [line cut at the size limit]</span>}
      </div>
    </>
  );
}
