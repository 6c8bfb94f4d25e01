// har-to-openapi's library API on HAR files: node run.mjs IN.har OUT.json [IN.har OUT.json ...]
// Prints one JSON line per file: {"har", "seconds" (HAR text to spec), "peak_rss_mb" (this process's, so far)}.
import { readFile, writeFile } from "node:fs/promises";
import { generateSpec } from "har-to-openapi";

const args = process.argv.slice(2);
if (args.length === 0 || args.length % 2 !== 0) {
  console.error("usage: node run.mjs IN.har OUT.json [IN.har OUT.json ...]");
  process.exit(2);
}
for (let i = 0; i < args.length; i += 2) {
  const text = await readFile(args[i], "utf8");
  const started = process.hrtime.bigint();
  const har = JSON.parse(text);
  const { spec } = await generateSpec(har, { attemptToParameterizeUrl: true });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await writeFile(args[i + 1], JSON.stringify(spec));
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify({ har: args[i], seconds, peak_rss_mb: Math.round(peakRssMb) }));
}
