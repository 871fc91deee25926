// The cost model, the same formula as iot-sim's (crate iot-sim, src/cost.rs): monthly dollars of
// each architecture for a workload measured in a run, from the versioned price table in
// cost/prices.json. Both sides check cost/examples.json (worked by hand) in their unit tests, so
// they cannot drift. Every price is on-demand list price, without free tier.
//
// workload = {
//   readingsPerRequest,                       // 1 for single sending, the batch size otherwise
//   serverless: { memoryMb, architecture,     // 'x86_64' | 'arm64'
//     billedMsPerRequest,                     // mean of each request's handler time rounded up to 1 ms
//     wcuPerRequest, rcuPerRequest,           // DynamoDB units measured (Server-Timing wcu/rcu)
//     logBytesPerRequest,                     // CloudWatch Logs bytes per request (EMF line + logs)
//     metricSeriesPerRun, runHours, runsPerMonth, // custom metrics created per run (per-run dimensions)
//     alwaysOnMetricSeries },                 // custom metrics that exist all month
//   ecs: { taskVcpu, taskMemoryGb,
//     taskReadingsPerSecond,                  // what one task sustained in the run
//     rdsStorageGb, albNewConnectionsPerRequest, albBytesPerRequest },
// }

const GB = 1e9;
const LCU_NEW_CONNECTIONS_PER_SECOND = 25;
const LCU_GB_PER_HOUR = 1;

const price = (prices, name) => {
  const entry = prices.prices[name];
  if (!entry) throw new Error(`the price table has no ${name}`);
  return entry.usd;
};

function readingsPerMonth(prices, readingsPerSecond) {
  return readingsPerSecond * 3600 * prices.hoursPerMonth;
}

/** Dollars of one Serverless request (Lambda, API Gateway, DynamoDB, logs). */
export function serverlessPerRequest(prices, w) {
  const s = w.serverless;
  const gbSecond = price(prices, s.architecture === 'arm64' ? 'lambdaGbSecondArm' : 'lambdaGbSecondX86');
  return price(prices, 'lambdaRequest')
    + (s.billedMsPerRequest / 1000) * (s.memoryMb / 1024) * gbSecond
    + price(prices, 'apiGatewayHttpRequest')
    + s.wcuPerRequest * price(prices, 'dynamoWriteUnit')
    + s.rcuPerRequest * price(prices, 'dynamoReadUnit')
    + (s.logBytesPerRequest / GB) * price(prices, 'logsIngestionGb');
}

/** Dollars a month of the custom metrics: per-run series are billed by the hour they exist. */
export function metricsMonthly(prices, w) {
  const s = w.serverless;
  const seriesHours = s.metricSeriesPerRun * Math.ceil(s.runHours) * s.runsPerMonth
    + s.alwaysOnMetricSeries * prices.hoursPerMonth;
  return (seriesHours / prices.hoursPerMonth) * price(prices, 'customMetricMonth');
}

/** Serverless dollars a month at a steady rate. */
export function serverlessMonthly(prices, w, readingsPerSecond) {
  const requests = readingsPerMonth(prices, readingsPerSecond) / w.readingsPerRequest;
  return requests * serverlessPerRequest(prices, w) + metricsMonthly(prices, w);
}

/** Tasks needed for a rate (at least one: the service is always on). */
export function ecsTasks(w, readingsPerSecond) {
  return Math.max(1, Math.ceil(readingsPerSecond / w.ecs.taskReadingsPerSecond));
}

/** LCUs per hour of load balancer traffic per request-per-second (the larger dimension). */
function lcuPerRequestPerSecond(w) {
  return Math.max(
    w.ecs.albNewConnectionsPerRequest / LCU_NEW_CONNECTIONS_PER_SECOND,
    (w.ecs.albBytesPerRequest * 3600) / GB / LCU_GB_PER_HOUR,
  );
}

/** ECS dollars a month at a steady rate (Fargate tasks, RDS, ALB). */
export function ecsMonthly(prices, w, readingsPerSecond) {
  const e = w.ecs;
  const task = e.taskVcpu * price(prices, 'fargateVcpuHour') + e.taskMemoryGb * price(prices, 'fargateGbHour');
  const lcu = (readingsPerSecond / w.readingsPerRequest) * lcuPerRequestPerSecond(w);
  const hourly = ecsTasks(w, readingsPerSecond) * task
    + price(prices, 'rdsInstanceHour')
    + price(prices, 'albHour')
    + lcu * price(prices, 'albLcuHour');
  return hourly * prices.hoursPerMonth + e.rdsStorageGb * price(prices, 'rdsStorageGbMonth');
}

/** Dollars per million readings of a monthly cost at a rate. */
export function perMillionReadings(prices, monthly, readingsPerSecond) {
  return (monthly / readingsPerMonth(prices, readingsPerSecond)) * 1e6;
}

/**
 * The lowest steady rate (readings/s) from which Serverless costs at least as much as ECS, or
 * null when it never does (within 100,000 ECS tasks). Both costs are linear in the rate between
 * two task counts, so each interval is solved exactly.
 */
export function breakEven(prices, w) {
  const a = serverlessMonthly(prices, w, 1) - serverlessMonthly(prices, w, 0);
  const b = serverlessMonthly(prices, w, 0);
  const t = w.ecs.taskReadingsPerSecond;
  for (let k = 1; k <= 100_000; k += 1) {
    const lo = (k - 1) * t;
    const hi = k * t;
    // ECS on (lo, hi] with k tasks: c + d·r.
    const d = (lcuPerRequestPerSecond(w) / w.readingsPerRequest) * price(prices, 'albLcuHour') * prices.hoursPerMonth;
    const c = ecsMonthly(prices, w, hi) - d * hi;
    if (a * hi + b >= c + d * hi) {
      const r = a > d ? (c - b) / (a - d) : lo;
      return Math.max(r, lo);
    }
  }
  return null;
}

/** Everything the compare view and iot-sim show for a workload measured at `measuredRate`. */
export function estimate(prices, w, measuredRate) {
  const rates = { measured: measuredRate, 1: 1, 10: 10, 100: 100 };
  const side = (monthly) => {
    const out = { perMillionReadings: perMillionReadings(prices, monthly(measuredRate), measuredRate), monthly: {} };
    for (const [name, rate] of Object.entries(rates)) out.monthly[name] = monthly(rate);
    return out;
  };
  return {
    priceTable: prices.version,
    serverless: side((r) => serverlessMonthly(prices, w, r)),
    ecs: side((r) => ecsMonthly(prices, w, r)),
    breakEvenReadingsPerSecond: breakEven(prices, w),
  };
}
