/*
 * app.js - the dashboard's script: reads the API (the same documents as
 * the commands' --json), follows the run through /api/events, and posts the
 * buttons' requests. The token came in the address once; the server set an
 * HttpOnly cookie from it, so the address is cleaned of it here.
 */
"use strict";

const $ = (sel) => document.querySelector(sel);
let status = null, plan = null, backups = [], runRows = [], jobRunning = false;

if (location.search.includes("token="))
	history.replaceState(null, "", location.pathname);

function el(tag, attrs, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (k === "class") e.className = v;
		else if (k.startsWith("data-")) e.setAttribute(k, v);
		else e[k] = v;
	}
	for (const k of kids) e.append(k instanceof Node ? k : String(k ?? ""));
	return e;
}
const badge = (s) => el("span", { class: "st st-" + s }, s);
const ms = (n) => n == null ? "" : n < 1000 ? n + " ms" : (n / 1000).toFixed(1) + " s";
const when = (t) => t ? t.replace("T", " ").replace("Z", "") : "";

async function api(path, body) {
	const opt = body === undefined ? {} : { method: "POST", body: JSON.stringify(body),
		headers: { "Content-Type": "application/json" } };
	const r = await fetch(path, Object.assign({ credentials: "same-origin" }, opt));
	const doc = await r.json().catch(() => ({}));
	if (!r.ok) throw new Error(doc.error || r.status + " " + r.statusText);
	return doc;
}

function say(text, error) {
	$("#message").textContent = text;
	$("#message").className = error ? "error" : "";
}

function what(a) {
	if (a.kind === "backup") return a.type + (a.version ? " at " + a.version : "");
	if (a.kind === "hook") return a.hook || a.id;
	if (a.kind === "version") return a.version;
	if (a.kind === "commit") return "transaction " + a.transaction + " on " + a.database;
	return a.id || "";
}

/* ---- the run in progress ---- */

function runRow(i, a) {
	if (runRows[i]) return runRows[i];
	const tr = el("tr", { "data-index": i, "data-state": "pending" },
		el("td", { class: "num" }, i + 1), el("td", {}, a.kind),
		el("td", { class: "mono" }, what(a)), el("td", {}, badge("pending")),
		el("td", { class: "num" }, ""));
	const body = $("#run tbody");
	const next = [...body.children].find((r) => +r.dataset.index > i);
	body.insertBefore(tr, next || null);
	runRows[i] = tr;
	$("#run-empty").hidden = true;
	return tr;
}

function setRowState(tr, state, took, message) {
	tr.dataset.state = state;
	tr.children[3].replaceChildren(badge(state));
	if (message) tr.children[3].append(" ", el("span", { class: "dim" }, message));
	tr.children[4].textContent = took;
}

function startRun(actions, title) {
	runRows = [];
	$("#run tbody").replaceChildren();
	(actions || []).forEach((a, i) => runRow(i, a));
	$("#run-title").textContent = title || "";
	$("#run-empty").hidden = runRows.length > 0;
}

const started = {};
function onEvent(ev) {
	if (ev.event === "action_start") {
		started[ev.index] = Date.now();
		setRowState(runRow(ev.index, ev.action), "running", "");
		$("#run-title").textContent = ev.run ? "run " + ev.run : "";
	} else if (ev.event === "action_end") {
		const a = ev.action;
		setRowState(runRow(ev.index, a), a.status, ms(a.duration_ms), a.message);
		/* A backup, a commit or a version changes what the other sections show. */
		if (a.kind === "backup" || a.kind === "commit" || a.kind === "version") refresh();
	} else if (ev.event === "paused") {
		showState("paused", "paused by " + ev.by);
	} else if (ev.event === "resumed") {
		showState("running");
	} else if (ev.event === "finished" || ev.event === "job_finished") {
		if (ev.event === "job_finished") {
			jobRunning = false;
			say(ev.job + ": " + (ev.result ? ev.result.status : "") +
				(ev.code ? " (exit " + ev.code + ") " + ev.message : ""), ev.code !== 0);
		}
		refresh();
	}
}

function follow() {
	const es = new EventSource("/api/events");
	es.onmessage = (m) => { try { onEvent(JSON.parse(m.data)); } catch (e) { console.error(e); } };
}

/* ---- the documents ---- */

function showState(state, text) {
	const b = $("#state");
	b.className = "badge st-" + state;
	b.textContent = text || state;
	b.dataset.state = state;
	const busy = state === "running" || state === "paused" || state === "locked";
	$("#upgrade").disabled = busy || !plan || !plan.actions.length;
	$("#pause").disabled = state !== "running";
	$("#resume").disabled = state !== "paused";
	$("#rollback").disabled = busy;
}

function renderStatus(s) {
	status = s;
	$("#app").textContent = s.app;
	$("#current").textContent = s.current;
	$("#latest").textContent = s.latest;
	document.title = s.app + " " + s.current + " · ferry";
	if (s.paused) showState("paused", "paused by " + s.paused.by);
	else if (s.locked_by) showState("running", "running (pid " + (s.locked_by.pid ?? "?") + ")");
	else if (s.interrupted) showState("interrupted", "interrupted: run 'ferry recover'");
	else showState("idle", s.pending_steps ? s.pending_steps + " steps pending" : "up to date");
}

function renderPlan(p) {
	plan = p;
	const body = $("#plan tbody");
	body.replaceChildren(...p.actions.map((a, i) => el("tr", {},
		el("td", { class: "num" }, i + 1), el("td", {}, a.kind), el("td", { class: "mono" }, what(a)),
		el("td", {}, a.database || ""), el("td", {}, a.transaction || ""))));
	$("#plan-empty").hidden = p.actions.length > 0;
	$("#plan-title").textContent = p.from === p.to ? "" : p.from + " → " + p.to;
	const t = $("#target"), keep = t.value;
	t.replaceChildren(...p.path.slice(1).reverse().map((v) => el("option", { value: v }, v)));
	if (!t.children.length) t.append(el("option", { value: "" }, p.to));
	if (keep && [...t.options].some((o) => o.value === keep)) t.value = keep;
}

function renderHistory(h) {
	const body = $("#history tbody");
	body.replaceChildren();
	for (const r of h.runs) {
		const tr = el("tr", { class: "clickable", "data-run": r.id, title: "show its steps" },
			el("td", { class: "num" }, r.id), el("td", {}, r.kind),
			el("td", { class: "mono" }, r.from + " → " + r.to), el("td", {}, badge(r.status)),
			el("td", {}, when(r.started_at)), el("td", { class: "num" }, ms(r.duration_ms)));
		tr.onclick = () => toggleSteps(tr, r.id);
		body.append(tr);
	}
	versionsForRollback(h);
}

async function toggleSteps(tr, id) {
	if (tr.nextSibling && tr.nextSibling.classList.contains("steps")) {
		tr.nextSibling.remove();
		return;
	}
	const doc = await api("/api/history?run=" + id);
	const list = el("table", {}, ...doc.steps.map((s) => el("tr", {},
		el("td", { class: "mono" }, s.id), el("td", {}, badge(s.status)),
		el("td", { class: "num" }, ms(s.duration_ms)), el("td", { class: "dim" }, s.message || ""))));
	const row = el("tr", { class: "steps" }, el("td", { colSpan: 6 },
		doc.steps.length ? list : el("span", { class: "dim" }, "no steps")));
	tr.after(row);
}

function renderBackups(b) {
	backups = b.backups;
	$("#backups tbody").replaceChildren(...backups.map((x) => el("tr", {},
		el("td", { class: "mono" }, x.id), el("td", {}, x.type), el("td", {}, x.version || ""),
		el("td", { class: "num" }, (x.size / 1024).toFixed(1) + " KiB"),
		el("td", {}, badge(x.status)))));
}

let lastHistory = null;
function versionsForRollback(h) {
	lastHistory = h || lastHistory;
	const sel = $("#rollback-to"), keep = sel.value, cur = status ? status.current : null;
	const opts = [];
	const good = backups.filter((x) => x.type !== "safety" && x.status !== "damaged");
	if (good.length) opts.push(el("option", { value: "backup:" }, "to the last backup (" +
		(good[0].version || "?") + ")"));
	for (const x of good.slice(1)) opts.push(el("option", { value: "backup:" + x.id }, "to " + x.id));
	const seen = new Set();
	for (const r of (lastHistory ? lastHistory.runs : []))
		for (const v of [r.from, r.to])
			if (v && v !== cur && !seen.has(v) && cmpVersion(v, cur) < 0) {
				seen.add(v);
				opts.push(el("option", { value: "version:" + v }, "down to " + v));
			}
	sel.replaceChildren(...opts);
	if (keep && opts.some((o) => o.value === keep)) sel.value = keep;
}

function cmpVersion(a, b) {
	const pa = a.split(/[.-]/).map(Number), pb = (b || "").split(/[.-]/).map(Number);
	for (let i = 0; i < 3; i++) if ((pa[i] || 0) !== (pb[i] || 0)) return (pa[i] || 0) - (pb[i] || 0);
	return 0;
}

async function refresh() {
	try {
		const [s, p, h, b] = await Promise.all([api("/api/status"), api("/api/plan"),
			api("/api/history"), api("/api/backups")]);
		renderBackups(b);
		/* While a run goes its plan stays as it began; after, the plan from where it ended. */
		if (!s.locked_by || !plan) renderPlan(p);
		renderStatus(s);
		renderHistory(h);
		renderStatus(s);
	} catch (e) {
		say(e.message, true);
	}
}

async function pollStatus() {
	try {
		renderStatus(await api("/api/status"));
	} catch (e) { /* the next poll says it again */ }
}

/* ---- the buttons ---- */

$("#upgrade").onclick = async () => {
	const target = $("#target").value || null;
	try {
		const p = await api("/api/plan" + (target ? "?target=" + encodeURIComponent(target) : ""));
		startRun(p.actions, p.from + " → " + p.to);
		await api("/api/up", { target });
		jobRunning = true;
		showState("running");
		say("upgrading to " + (target || p.to));
	} catch (e) { say(e.message, true); }
};
$("#pause").onclick = async () => {
	try { await api("/api/pause", {}); say("pause requested: the run stops at its next safe point"); }
	catch (e) { say(e.message, true); }
};
$("#resume").onclick = async () => {
	try { await api("/api/resume", {}); say("resumed"); showState("running"); }
	catch (e) { say(e.message, true); }
};
$("#rollback").onclick = async () => {
	const v = $("#rollback-to").value;
	if (!v) return say("no backup or earlier version to go back to", true);
	const [kind, arg] = [v.slice(0, v.indexOf(":")), v.slice(v.indexOf(":") + 1)];
	if (!confirm("Roll back " + (kind === "version" ? "down to " + arg : "to the backup") + "?"))
		return;
	try {
		say("rolling back…");
		const r = await api("/api/rollback", kind === "version" ? { version: arg } :
			arg ? { backup: arg } : {});
		say("rolled back: at " + (r.version || r.to));
	} catch (e) { say(e.message, true); }
	refresh();
};

follow();
refresh();
setInterval(pollStatus, 2000);
