/**
 * @module Builds `dist/jams`, the single executable: server, admin web UI, migrations and the
 * libSQL native addon in one file, with .env and bunfig.toml autoloading turned off so stray
 * files in the working directory cannot change its behaviour.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { buildUi } from "./build-ui.ts";

const root = join(import.meta.dirname, "..");
const packageJson = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };

function gitCommit(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

/**
 * libsql loads its addon with a computed `require(\`@libsql/${target}\`)` that the bundler cannot
 * follow; rewriting it to the static Linux x64 path makes Bun embed the `.node` file.
 * Check this against each libsql upgrade.
 */
const embedLibsqlAddon: import("bun").BunPlugin = {
  name: "embed-libsql-addon",
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]libsql[\\/]index\.js$/ }, (args) => {
      const source = readFileSync(args.path, "utf8");
      const rewritten = source.replace(/require\(`@libsql\/\$\{target\}`\)/, 'require("@libsql/linux-x64-gnu/index.node")');
      if (rewritten === source) throw new Error(`embed-libsql-addon: the addon require was not found in ${args.path}`);
      return { contents: rewritten, loader: "js" };
    });
  },
};

// The UI bundle must exist before the server is compiled, because the server embeds it.
const ui = await buildUi();
console.log(`built the admin UI: ${ui.files.length} files, ${ui.totalBytes} bytes`);

const commit = gitCommit();
const result = await Bun.build({
  entrypoints: [join(root, "src/main.ts")],
  compile: {
    outfile: join(root, "dist/jams"),
    autoloadDotenv: false,
    autoloadBunfig: false,
  },
  minify: true,
  sourcemap: "linked",
  plugins: [embedLibsqlAddon],
  define: {
    JAMS_BUILD_VERSION: JSON.stringify(packageJson.version),
    JAMS_BUILD_COMMIT: JSON.stringify(commit),
  },
});
if (!result.success) {
  for (const message of result.logs) console.error(message);
  process.exit(1);
}
console.log(`built dist/jams ${packageJson.version} (${commit})`);
