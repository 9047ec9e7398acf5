import { useId, useState, type FormEvent } from "react";
import { useQuery } from "@tanstack/react-query";
import { useClient } from "../../api/clients";
import { DeploymentService } from "../../gen/ferry/v1/deployment_pb";
import type { RunState } from "../../gen/ferry/v1/run_pb";
import { runStates, stateName } from "../../components/runState";
import { fromLocalInput, hasFilters, maxTags, noFilters, parseTagList, toLocalInput, type RunFilters } from "./filters";

/** The text fields of the form, edited before they are applied. */
interface Draft {
  deployment: string;
  tags: string;
  after: string;
  before: string;
}

function draftOf(f: RunFilters): Draft {
  return {
    deployment: f.deployment,
    tags: f.tags.join(", "),
    after: toLocalInput(f.createdAfter),
    before: toLocalInput(f.createdBefore),
  };
}

/** Edits the runs list's filters. States and "late" apply at once; the
 * text fields apply with the Apply button or Enter. The parent keys this
 * form by the applied filters, so it starts over when they change. */
export function FilterForm({ filters, onApply }: { filters: RunFilters; onApply: (f: RunFilters) => void }) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(filters));
  const [problem, setProblem] = useState("");
  const deployments = useDeploymentNames();
  const listId = useId();

  const withDraft = (f: RunFilters): RunFilters | undefined => {
    const tags = parseTagList(draft.tags);
    if (tags.length > maxTags) {
      setProblem(`At most ${maxTags} tags can be combined; remove ${tags.length - maxTags}.`);
      return undefined;
    }
    const after = fromLocalInput(draft.after);
    const before = fromLocalInput(draft.before);
    if (after && before && after >= before) {
      setProblem("“Created after” must be earlier than “Created before”.");
      return undefined;
    }
    setProblem("");
    return { ...f, deployment: draft.deployment.trim(), tags, createdAfter: after, createdBefore: before };
  };

  const apply = (f: RunFilters) => {
    const next = withDraft(f);
    if (next) onApply(next);
  };

  const toggleState = (s: RunState, on: boolean) => {
    const set = new Set(filters.states);
    if (on) set.add(s);
    else set.delete(s);
    apply({ ...filters, states: runStates.filter((x) => set.has(x)) });
  };

  const clear = () => {
    setDraft(draftOf(noFilters));
    setProblem("");
    onApply(noFilters);
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    apply(filters);
  };

  return (
    <form className="filters runs-filters" onSubmit={submit} aria-label="Filter runs">
      <fieldset className="runs-states">
        <legend>State</legend>
        {runStates.map((s) => (
          <label key={s} className="check">
            <input type="checkbox" checked={filters.states.includes(s)} onChange={(e) => toggleState(s, e.target.checked)} />
            {stateName(s)}
          </label>
        ))}
        <label className="check">
          <input type="checkbox" checked={filters.late} onChange={(e) => apply({ ...filters, late: e.target.checked })} />
          Late only
        </label>
      </fieldset>
      <label>
        Deployment
        <input
          type="text"
          name="deployment"
          list={listId}
          maxLength={63}
          autoComplete="off"
          spellCheck={false}
          value={draft.deployment}
          onChange={(e) => setDraft({ ...draft, deployment: e.target.value })}
        />
        <datalist id={listId}>
          {deployments.names.map((n) => (
            <option key={n} value={n} />
          ))}
        </datalist>
      </label>
      <label>
        Tags <span className="hint">(all of, comma-separated)</span>
        <input type="text" name="tags" autoComplete="off" spellCheck={false} value={draft.tags} onChange={(e) => setDraft({ ...draft, tags: e.target.value })} />
      </label>
      <label>
        Created after
        <input type="datetime-local" name="after" value={draft.after} onChange={(e) => setDraft({ ...draft, after: e.target.value })} />
      </label>
      <label>
        Created before
        <input type="datetime-local" name="before" value={draft.before} onChange={(e) => setDraft({ ...draft, before: e.target.value })} />
      </label>
      <div className="runs-filter-actions">
        <button type="submit" className="primary">
          Apply
        </button>
        <button type="button" disabled={!hasFilters(filters) && draft.deployment + draft.tags + draft.after + draft.before === ""} onClick={clear}>
          Clear filters
        </button>
      </div>
      {problem !== "" && (
        <p className="field-error runs-filter-problem" role="alert">
          {problem}
        </p>
      )}
      {deployments.failed && <p className="hint runs-filter-problem">Deployment names could not be loaded for suggestions; type the name.</p>}
    </form>
  );
}

/** Loads deployment names for the deployment field's suggestions. */
function useDeploymentNames(): { names: string[]; failed: boolean } {
  const client = useClient(DeploymentService);
  const q = useQuery({
    queryKey: ["deployments", "names"],
    queryFn: async ({ signal }) => (await client.listDeployments({ pageSize: 1000 }, { signal })).deployments.map((d) => d.name),
    staleTime: 60_000,
  });
  return { names: q.data ?? [], failed: q.isError };
}
