// dashboard.js URL [SCREENSHOT] - the dashboard of `ferry serve` in a real
// browser: Debian's chromium, headless, driven by puppeteer-core (installed
// by tests/browser/run.sh into FERRY_NPM). Loads the page with its token,
// clicks Upgrade, pauses once a step is applied, checks that nothing moves
// while paused, resumes, and sees every step turn applied and the version
// reach the latest. Prints "ok" and exits 0, or says what failed and exits 1.
"use strict";
const path = require("path");
const prefix = process.env.FERRY_NPM || path.join(process.env.HOME, ".cache", "ferry-npm");
const puppeteer = require(path.join(prefix, "node_modules", "puppeteer-core"));

const url = process.argv[2];
const shot = process.argv[3];
const chrome = process.env.FERRY_CHROMIUM || "/usr/bin/chromium";

function fail(msg) {
	console.error("browser test: " + msg);
	process.exit(1);
}

(async () => {
	const browser = await puppeteer.launch({
		executablePath: chrome,
		headless: true,
		args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
	});
	const timer = setTimeout(() => fail("timed out after 50 s"), 50000);
	try {
		const page = await browser.newPage();
		await page.setViewport({ width: 1200, height: 1000 });
		const errors = [];
		page.on("pageerror", (e) => errors.push(e.message));
		await page.goto(url, { waitUntil: "load" });
		// The token left the address bar; the cookie carries it.
		if (page.url().includes("token=")) fail("the token is still in the address: " + page.url());
		await page.waitForFunction(() => document.querySelector("#state").dataset.state === "idle" &&
			document.querySelectorAll("#plan tbody tr").length > 0, { timeout: 10000 });
		const planSteps = await page.$$eval("#plan tbody tr", (rows) =>
			rows.filter((r) => r.children[1].textContent === "step").map((r) => r.children[2].textContent));
		if (planSteps.length < 2) fail("the plan shows " + planSteps.length + " steps");
		// Watch every row of the run table change state.
		await page.evaluate(() => {
			window.seen = {};
			new MutationObserver(() => {
				for (const tr of document.querySelectorAll("#run tbody tr")) {
					const i = tr.dataset.index, s = tr.dataset.state, l = (window.seen[i] ||= []);
					if (l[l.length - 1] !== s) l.push(s);
				}
			}).observe(document.querySelector("#run tbody"), { subtree: true, childList: true,
				attributes: true });
		});
		await page.click("#upgrade");
		// A step applied, then pause: the run waits at its next safe point.
		await page.waitForSelector("#run tbody tr[data-state=applied]", { timeout: 20000 });
		await page.click("#pause");
		await page.waitForFunction(() => document.querySelector("#state").dataset.state === "paused",
			{ timeout: 20000 });
		const count = () => page.$$eval("#run tbody tr", (rows) =>
			rows.map((r) => r.dataset.state).join(" "));
		const before = await count();
		if (before.includes("running")) fail("an action runs while paused: " + before);
		await new Promise((r) => setTimeout(r, 1000));
		const after = await count();
		if (after !== before) fail("the run moved while paused: " + before + " / " + after);
		if (!before.includes("pending")) fail("paused with nothing left to do: " + before);
		await page.click("#resume");
		await page.waitForSelector("#run tbody tr[data-state=running]", { timeout: 20000 });
		if (shot) await page.screenshot({ path: shot, fullPage: true });
		await page.waitForFunction(() => document.querySelector("#state").dataset.state === "idle" &&
			document.querySelector("#current").textContent === document.querySelector("#latest")
				.textContent, { timeout: 30000 });
		const rows = await page.$$eval("#run tbody tr", (rs) => rs.map((r) => ({
			i: r.dataset.index, kind: r.children[1].textContent, what: r.children[2].textContent,
			state: r.dataset.state })));
		const seen = await page.evaluate(() => window.seen);
		for (const r of rows) {
			const want = r.kind === "step" ? "applied" : "done";
			if (r.state !== want) fail("action " + r.i + " (" + r.what + ") ended " + r.state);
			const l = seen[r.i] || [];
			if (r.kind === "step" && !(l.includes("running") && l[l.length - 1] === "applied"))
				fail("step " + r.what + " went " + l.join(" -> "));
		}
		const steps = rows.filter((r) => r.kind === "step").map((r) => r.what);
		if (steps.join() !== planSteps.join()) fail("ran " + steps + ", the plan said " + planSteps);
		// History shows the run; a click shows its steps.
		await page.waitForSelector("#history tbody tr[data-run]", { timeout: 5000 });
		await page.click("#history tbody tr[data-run]");
		await page.waitForSelector("#history tr.steps", { timeout: 5000 });
		if (errors.length) fail("errors in the page: " + errors.join("; "));
		console.log("ok: " + steps.length + " steps applied, paused and resumed");
	} finally {
		clearTimeout(timer);
		await browser.close();
	}
})().catch((e) => fail(e.stack || String(e)));
