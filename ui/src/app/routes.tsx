import { lazy } from "react";

// Pages load on first visit, so the first page fetches only its own code.
export const Dashboard = lazy(() => import("../pages/Dashboard"));
export const Runs = lazy(() => import("../pages/Runs"));
export const RunDetail = lazy(() => import("../pages/RunDetail"));
export const Deployments = lazy(() => import("../pages/Deployments"));
export const DeploymentDetail = lazy(() => import("../pages/DeploymentDetail"));
export const Pools = lazy(() => import("../pages/Pools"));
export const Audit = lazy(() => import("../pages/Audit"));
export const Policies = lazy(() => import("../pages/Policies"));
export const ApiKeys = lazy(() => import("../pages/ApiKeys"));
