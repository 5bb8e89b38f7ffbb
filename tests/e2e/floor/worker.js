// The least any worker pays: each call the install path makes, made `n` times by plain
// JavaScript with nothing around it, so the side-by-side bench (tests/e2e/floor.rs) can read
// what workerd under `wrangler dev` charges per call, whatever language a worker is written in.
const COLUMNS = Array.from({ length: 10 }, (_, k) => `c${k}`);

export default {
  async fetch(req, env) {
    const url = new URL(req.url);
    const n = Number(url.searchParams.get("n") ?? "0");
    const op = url.pathname.slice(1);
    if (op === "setup") {
      await env.DB.prepare("CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY, n INTEGER)").run();
      await env.DB.prepare(`CREATE TABLE IF NOT EXISTS wide (id INTEGER PRIMARY KEY, ${COLUMNS.join(", ")})`).run();
      // The KV reads find a value, as a token cache's would.
      await env.KV.put("floor", "a value");
      return new Response("ok");
    }
    for (let i = 0; i < n; i++) {
      switch (op) {
        case "request":
          break;
        case "fetch":
          await (await fetch(env.TARGET)).arrayBuffer();
          break;
        case "read":
          await env.DB.prepare("SELECT 1 AS one").first();
          break;
        case "write":
          await env.DB.prepare(
            "INSERT INTO counter (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET n = n + 1",
          ).run();
          break;
        case "batch":
          // Nine writes of ten values each in one round trip, the shape of a job's close.
          await env.DB.batch(
            Array.from({ length: 9 }, (_, k) =>
              env.DB.prepare(`INSERT OR REPLACE INTO wide VALUES (?, ${COLUMNS.map(() => "?").join(", ")})`)
                .bind(k, ...COLUMNS.map((c) => `${c}-${i}-a value of some length`)),
            ),
          );
          break;
        case "log":
          console.log({ level: "info", event: "floor", i });
          break;
        case "kv":
          await env.KV.get("floor");
          break;
        default:
          return new Response("unknown op", { status: 404 });
      }
    }
    return new Response("ok");
  },
};
