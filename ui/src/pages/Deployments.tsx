import { PageHeader } from "../components/PageHeader";

// TODO(ui): this page is being built.
export default function Deployments() {
  return <PageHeader title="Deployments" />;
}
