import { Link } from "react-router";
import { PageHeader } from "../components/PageHeader";

/** Answers an address the UI has no page for. */
export default function NotFound() {
  return (
    <>
      <PageHeader title="Page not found" />
      <p>
        There is no page at this address. Go to the <Link to="/">dashboard</Link> or the <Link to="/runs">runs</Link>.
      </p>
    </>
  );
}
