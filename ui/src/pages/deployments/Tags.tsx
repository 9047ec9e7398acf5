import { Untrusted } from "../../components/Untrusted";

/** Shows a deployment's tags as badges, or "none". */
export function Tags({ tags }: { tags: string[] }) {
  if (tags.length === 0) return <span className="hint">none</span>;
  return (
    <span className="tags">
      {tags.map((t) => (
        <Untrusted key={t} className="badge" text={t} />
      ))}
    </span>
  );
}
