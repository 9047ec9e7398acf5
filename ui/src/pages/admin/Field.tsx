import type { ReactNode } from "react";

/** Labels one control (whose id is id and whose aria-describedby is
 * `${id}-help`) and shows its help, or its error in place of the help. The
 * help sits outside the label, so the control's name stays short. */
export function Field({ id, label, help, error, children }: { id: string; label: ReactNode; help?: ReactNode; error?: string; children: ReactNode }) {
  return (
    <div className="admin-field">
      <label htmlFor={id}>{label}</label>
      {children}
      {(error || help) && (
        <span id={`${id}-help`} className={error ? "field-error" : "hint"}>
          {error || help}
        </span>
      )}
    </div>
  );
}
