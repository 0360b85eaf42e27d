// The tests read metrics with the same parser as the agent.
export { metricValue } from "../../src/util/metrics-text.ts";
