import { describeError } from "../../api/errors";
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
          {what}: {p.title}
        </strong>
        {p.detail && <p className="notice-detail">{p.detail}</p>}
        <p>{p.action}</p>
      </div>
    );
  }
  return (
    <div className="notice notice-error" role="alert" id={id} data-code={p.code}>
      <strong>
        {what}: the policy has {problems.length === 1 ? "a problem" : `${problems.length} problems`}
      </strong>
      <ul className="problems">
        {problems.map((pr, i) => (
          <li key={i} className="notice-detail">
            {formatProblem(pr)}
          </li>
        ))}
      </ul>
      <p>Fix the line and column named above, then try again.</p>
    </div>
  );
}
