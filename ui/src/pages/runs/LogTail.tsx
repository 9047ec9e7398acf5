import { memo, useEffect, useLayoutEffect, useMemo, useRef, useState, type UIEvent } from "react";
import { Code, ConnectError } from "@connectrpc/connect";
import { useClient } from "../../api/clients";
import { LogStream, RunService, type LogLine } from "../../gen/ferry/v1/run_pb";
import { ErrorNotice } from "../../components/Notice";
import { showUntrusted } from "../../lib/bidi";
import { appendLines, earlierPageSize, earlierRoom, emptyLog, filterLines, highlight, lineKey, maxLogLines, prependLines, tailLines } from "./logs";

/** Codes after which reconnecting cannot help. */
const fatal = new Set([Code.NotFound, Code.InvalidArgument, Code.PermissionDenied, Code.Unauthenticated, Code.Unimplemented]);

/** How close to the bottom (in pixels) still counts as at the bottom. */
const bottomSlack = 24;

type Status = "connecting" | "live" | "ended" | "retrying" | "failed";

/** Streams a run's log with FollowRunLogs, starting with its last
 * {@link tailLines} lines and keeping at most {@link maxLogLines} in memory;
 * "Load earlier lines" pages backward with ListRunLogs into the room left
 * (see LogBuffer in ./logs for the policy). attempt restarts the follow when
 * a retry begins a new attempt; the stream resumes after the last line it
 * delivered. */
export const LogTail = memo(function LogTail({ runId, attempt }: { runId: string; attempt: number }) {
  const client = useClient(RunService);
  const [buf, setBuf] = useState(emptyLog);
  const [status, setStatus] = useState<Status>("connecting");
  const [error, setError] = useState<unknown>(null);
  const [follow, setFollow] = useState(true);
  const [query, setQuery] = useState("");
  const [loadingEarlier, setLoadingEarlier] = useState(false);
  const [earlierError, setEarlierError] = useState<unknown>(null);
  const token = useRef("");
  const box = useRef<HTMLDivElement>(null);
  /** The distance from the log's content end to its scroll position before
   * earlier lines were put on top, to keep the same lines in view. */
  const keepFromBottom = useRef<number | null>(null);
  const earlierAbort = useRef<AbortController | null>(null);
  useEffect(() => () => earlierAbort.current?.abort(), []);

  useEffect(() => {
    const ac = new AbortController();
    const run = async () => {
      let backoff = 1_000;
      while (!ac.signal.aborted) {
        try {
          setStatus("live");
          // tail_lines only applies without a page token, so a resumed
          // follow carries on after its last line.
          const req = { id: runId, pageToken: token.current, tailLines };
          for await (const r of client.followRunLogs(req, { signal: ac.signal })) {
            if (r.pageToken !== "") token.current = r.pageToken;
            setBuf((b) => appendLines(b, r.lines, maxLogLines, r.earlierPageToken));
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

  // While following, keep the newest line in view; otherwise keep the lines
  // in view where they were when earlier lines were put on top.
  useLayoutEffect(() => {
    const el = box.current;
    const keep = keepFromBottom.current;
    keepFromBottom.current = null;
    if (!el) return;
    if (follow) el.scrollTop = el.scrollHeight;
    else if (keep !== null) el.scrollTop = el.scrollHeight - keep;
  }, [follow, shown]);

  const room = earlierRoom(buf);
  const loadEarlier = async () => {
    const from = buf.earlier;
    const ac = new AbortController();
    earlierAbort.current?.abort();
    earlierAbort.current = ac;
    setLoadingEarlier(true);
    setEarlierError(null);
    try {
      const r = await client.listRunLogs(
        { id: runId, backward: true, pageToken: from, pageSize: Math.min(earlierPageSize, room) },
        { signal: ac.signal },
      );
      const el = box.current;
      if (el) keepFromBottom.current = el.scrollHeight - el.scrollTop;
      // Live lines may have let the first kept line go meanwhile; then the
      // page no longer joins the buffer and is not used.
      setBuf((b) => (b.earlier === from ? prependLines(b, r.lines, r.nextPageToken) : b));
    } catch (err) {
      if (!ac.signal.aborted) setEarlierError(err);
    } finally {
      if (!ac.signal.aborted) setLoadingEarlier(false);
    }
  };

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
      {room > 0 && (
        <div className="log-earlier">
          <button type="button" onClick={() => void loadEarlier()} disabled={loadingEarlier}>
            {loadingEarlier ? "Loading earlier lines…" : "Load earlier lines"}
          </button>
        </div>
      )}
      {buf.earlier !== "" && room === 0 && (
        <p className="hint">
          Earlier lines are not shown: this page keeps at most {maxLogLines.toLocaleString()} lines. Read the whole log with{" "}
          <code>ferry run logs {runId}</code>.
        </p>
      )}
      {earlierError !== null && <ErrorNotice error={earlierError} what="Cannot load earlier lines" />}
      {buf.dropped > 0 && (
        <p className="hint">
          {buf.dropped.toLocaleString()} older line{buf.dropped === 1 ? " is" : "s are"} not shown: this page keeps the last {maxLogLines.toLocaleString()}. Read the
          whole log with <code>ferry run logs {runId}</code>.
        </p>
      )}
      {error !== null && status !== "live" && (
        <ErrorNotice error={error} what={status === "retrying" ? "The log stream was interrupted; reconnecting" : "Cannot read the log"} />
      )}
      <div ref={box} className="log" role="log" aria-label="Run log" aria-busy={loadingEarlier} tabIndex={0} onScroll={onScroll}>
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
        {highlight(line.text, query).map((s, i) => (s.match ? <mark key={i}>{showUntrusted(s.text)}</mark> : showUntrusted(s.text)))}
        {line.truncated && <span className="hint"> [line cut at the size limit]</span>}
      </div>
    </>
  );
}
