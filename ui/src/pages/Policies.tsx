import { PageHeader } from "../components/PageHeader";

// TODO(ui): this page is being built.
export default function Policies() {
  return <PageHeader title="Policies" />;
}
