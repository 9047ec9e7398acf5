import { PageHeader } from "../components/PageHeader";

// TODO(ui): this page is being built.
export default function DeploymentDetail() {
  return <PageHeader title="DeploymentDetail" />;
}
