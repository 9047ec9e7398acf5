import { describeError } from "../../api/errors";
import { showUntrusted } from "../../lib/bidi";
import { formatProblem, policyProblems } from "./policy";

/** Shows why the server refused a policy: each compile problem as
 * file:line:col, or the error in words when it carries none. */
export function PolicyError({ error, what, id }: { error: unknown; what: string; id?: string }) {
  const problems = policyProblems(error);
  const p = describeError(error);
  if (problems.length === 0) {
    return (
      <div className="notice notice-error" role="alert" id={id} data-code={p.code}>
        <strong>
          {showUntrusted(what)}: {p.title}
        </strong>
        {p.detail && (
          <p className="notice-detail">
            <bdi>{showUntrusted(p.detail)}</bdi>
          </p>
        )}
        <p>{p.action}</p>
      </div>
    );
  }
  return (
    <div className="notice notice-error" role="alert" id={id} data-code={p.code}>
      <strong>
        {showUntrusted(what)}: the policy has {problems.length === 1 ? "a problem" : `${problems.length} problems`}
      </strong>
      <ul className="problems">
        {problems.map((pr, i) => (
          <li key={i} className="notice-detail">
            <bdi>{showUntrusted(formatProblem(pr))}</bdi>
          </li>
        ))}
      </ul>
      <p>Fix the line and column named above, then try again.</p>
    </div>
  );
}
