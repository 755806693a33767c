// The octorec page: find a developer, show their recommendations next to what they starred or
// own, like or dismiss a recommendation, see projects like a project, and get recommendations
// computed on request for a few pasted projects.
// Routes live in the hash (#/users/<login>, #/projects/<owner>/<repo>, #/for?starred=<a/b,c/d>
// for recommendations computed on request), so the server needs none.
// Everything the API returns is written with textContent and DOM calls, never parsed as HTML.
// A bearer token for the writes (when the server has API_TOKEN) stays in this tab's
// sessionStorage and is sent only in the Authorization header of the feedback requests.

const COMPONENTS = [
  ["semantic", "Semantic"],
  ["category", "Category"],
  ["tech_stack", "Tech stack"],
  ["popularity", "Popularity"],
  ["collaborative", "Collaborative"],
];
const LOGIN = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}$/;
const QUERY = /^[A-Za-z0-9-]{0,39}$/;
const REPOSITORY = /^[A-Za-z0-9._-]{1,100}$/;
const FULL_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}\/[A-Za-z0-9._-]{1,100}$/;
const STARRED_LIMIT = 200;
const LOGIN_RULE = "Logins contain only letters, digits and hyphens.";
const SEARCH_DELAY_MS = 200;
const RECOMMENDATION_LIMIT = 10;
const SIMILAR_LIMIT = 10;
const USER_LIMIT = 12;
const SCORE_TOLERANCE = 0.005;
const TOKEN_KEY = "octorec-api-token";
const TOKEN_NEEDED = "This server needs an API token for likes and dismissals: "
  + "enter it under \u201cAPI token\u201d above.";

const $ = (id) => document.getElementById(id);
const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 1 });
const whole = new Intl.NumberFormat("en");
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

/** An element: `class`, `text` and `style` (an object) are special, other props are attributes. */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "style") Object.assign(node.style, value);
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

const hidden = (text) => el("span", { class: "visually-hidden", text });
const userHash = (login) => `#/users/${encodeURIComponent(login)}`;
const projectPath = (fullName) => fullName.split("/").map(encodeURIComponent).join("/");
const projectHash = (fullName) => `#/projects/${projectPath(fullName)}`;

/** The project's GitHub address, or one built from its name when the API's is not https. */
function githubUrl(project) {
  const url = String(project.url ?? "");
  return url.startsWith("https://") ? url : `https://github.com/${project.full_name}`;
}

class ApiError extends Error {
  constructor(message, body = null) {
    super(message);
    this.closeMatches = Array.isArray(body?.close_matches) ? body.close_matches : [];
  }
}

/** Fetch a JSON route; an `ApiError` carrying the server's message when it answers with an error. */
async function requestJSON(path, { method = "GET", body, signal, token } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    response = await fetch(path, { method, signal, headers, body: payload });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(`Could not reach the octorec server (${error.message}).`);
  }
  const answer = await response.json().catch(() => null);
  if (response.ok) return answer;
  if (response.status === 401) {
    $("token-box").open = true;
    throw new ApiError(TOKEN_NEEDED);
  }
  let detail = `The server answered ${response.status} ${response.statusText}.`;
  if (typeof answer?.detail === "string") detail = answer.detail;
  else if (Array.isArray(answer?.detail)) detail = answer.detail.map((d) => d.msg).join("; ");
  throw new ApiError(detail, answer);
}

const getJSON = (path, signal) => requestJSON(path, { signal });

/** The bearer token this tab was given, if any. */
const apiToken = () => sessionStorage.getItem(TOKEN_KEY) || "";

/** POST a like or dismissal, or DELETE one (`kind` null), with the token when there is one. */
function sendFeedback(login, fullName, kind) {
  const base = `/users/${encodeURIComponent(login)}/feedback`;
  if (kind === null) {
    return requestJSON(`${base}/${projectPath(fullName)}`, { method: "DELETE", token: apiToken() });
  }
  const body = { project: fullName, kind };
  return requestJSON(base, { method: "POST", body, token: apiToken() });
}

/** Fill the alert region: an error and, for an unknown name, links to its close matches. */
function showMessage(text, matches = [], hashOf = userHash) {
  const box = $("message");
  box.replaceChildren();
  if (!text) return;
  box.append(el("p", { text }));
  if (matches.length) {
    const links = matches.map((name) => el("li", {}, el("a", { href: hashOf(name) }, name)));
    const list = el("ul", { class: "inline-list" }, ...links);
    box.append(el("div", { class: "close-matches" }, "Close matches:", list));
  }
}

function setView(title, summary) {
  $("view-title").textContent = title;
  $("view-summary").replaceChildren(summary);
  document.title = `${title} · octorec`;
}

function showResults(heading, cards) {
  $("results-title").textContent = heading;
  $("results-title").hidden = false;
  $("results").replaceChildren(...cards.map((card) => el("li", {}, card)));
}

function facts(project) {
  const items = [];
  if (project.language) {
    items.push(el("li", { class: "language" }, hidden("Language: "), project.language));
  }
  if (project.stars !== null && project.stars !== undefined) {
    const stars = el("li", { class: "stars", title: `${whole.format(project.stars)} stars` });
    stars.append(el("span", { "aria-hidden": "true", text: "★ " }));
    stars.append(`${compact.format(project.stars)} stars`);
    items.push(stars);
  }
  return el("ul", { class: "facts" }, ...items);
}

/** A project card: its name linking to GitHub, description, facts, `body`, a project page link. */
function card(project, body, badge = null) {
  const name = project.full_name;
  const github = el("a", { href: githubUrl(project), rel: "noopener", class: "github" }, name);
  const page = el("a", { href: projectHash(name), class: "project-link" }, "Similar projects");
  page.append(hidden(` to ${name}`));
  return el(
    "article",
    { class: "card", "data-project": name },
    el("header", { class: "card-head" }, el("h4", {}, github), badge),
    el("p", { class: "description", text: project.description || "No description." }),
    facts(project),
    ...body,
    el("p", { class: "card-foot" }, page),
  );
}

/** Each component's weighted contribution to a score, leaving out those that add nothing. */
function contributions(weights, components) {
  return COMPONENTS.map(([key, label]) => ({
    key,
    label,
    value: (weights[key] ?? 0) * (components[key] ?? 0),
  })).filter((part) => part.value > 0);
}

/** The score, a stacked bar of each contribution's share of it, and a legend of the parts. */
function scoreBar(score, parts) {
  const total = parts.reduce((sum, part) => sum + part.value, 0);
  const text = parts.map((part) => `${part.label} ${part.value.toFixed(2)}`).join(", ");
  const label = `Score ${score.toFixed(2)}, weighted contributions: ${text || "none"}`;
  const bar = el("div", { class: "bar", role: "img", "aria-label": label });
  const legend = el("ul", { class: "breakdown", "aria-hidden": "true" });
  for (const part of parts) {
    const share = (100 * part.value) / total;
    const title = `${part.label}: ${part.value.toFixed(3)} (${share.toFixed(0)}% of the score)`;
    const style = { width: `${share}%` };
    const segment = { class: `segment ${part.key}`, "data-component": part.key, title, style };
    bar.append(el("span", segment));
    const swatch = el("span", { class: `swatch ${part.key}` });
    legend.append(el("li", {}, swatch, `${part.label} ${part.value.toFixed(2)}`));
  }
  const value = el("strong", { text: score.toFixed(2) });
  return [el("p", { class: "score" }, "Score ", value), bar, legend];
}

/** Say what a feedback click did, with an optional action (undo). */
function feedbackStatus(text, action = null) {
  const status = $("feedback-status");
  status.replaceChildren();
  if (text) status.append(text);
  if (action) status.append(action);
}

/** Dismiss: the card goes at once; it comes back (with the error) when the server refuses. */
async function dismiss(login, fullName, item) {
  const results = $("results");
  const next = item.nextSibling;
  item.remove();
  feedbackStatus(`Dismissing ${fullName}\u2026`);
  try {
    await sendFeedback(login, fullName, "dismiss");
  } catch (error) {
    results.insertBefore(item, next && next.parentNode === results ? next : null);
    feedbackStatus("");
    showMessage(`${fullName} was not dismissed: ${error.message}`);
    return;
  }
  const undo = el("button", { type: "button", class: "undo" }, "Undo", hidden(` ${fullName}`));
  undo.addEventListener("click", async () => {
    try {
      await sendFeedback(login, fullName, null);
    } catch (error) {
      showMessage(`${fullName} is still dismissed: ${error.message}`);
      return;
    }
    results.insertBefore(item, next && next.parentNode === results ? next : null);
    feedbackStatus(`${fullName} is back.`);
  });
  feedbackStatus(`Dismissed ${fullName}: it will not be recommended to ${login} again.`, undo);
}

/** Like (or take back a like): the button shows it at once, and reverts when refused. */
async function toggleLike(login, fullName, button) {
  const liked = button.getAttribute("aria-pressed") === "true";
  button.setAttribute("aria-pressed", liked ? "false" : "true");
  try {
    await sendFeedback(login, fullName, liked ? null : "like");
  } catch (error) {
    button.setAttribute("aria-pressed", liked ? "true" : "false");
    showMessage(`${fullName} was not ${liked ? "unliked" : "liked"}: ${error.message}`);
    return;
  }
  feedbackStatus(liked
    ? `Took back the like of ${fullName}.`
    : `Liked ${fullName}: the next run counts it like a star.`);
}

function feedbackButtons(login, fullName, liked) {
  const like = el(
    "button",
    { type: "button", class: "like", "aria-pressed": liked ? "true" : "false" },
    "Like",
    hidden(` ${fullName}`),
  );
  const drop = el("button", { type: "button", class: "dismiss" }, "Dismiss", hidden(` ${fullName}`));
  like.addEventListener("click", () => toggleLike(login, fullName, like));
  drop.addEventListener("click", () => dismiss(login, fullName, drop.closest("li")));
  return el("div", { class: "feedback" }, like, drop);
}

function recommendationCard(item, weights, login, liked) {
  const badge = el("span", { class: "rank", title: `Rank ${item.rank}` }, `#${item.rank}`);
  const parts = contributions(weights, item.components);
  const reason = el("p", { class: "reason", text: item.reason });
  const name = item.project.full_name;
  const body = [...scoreBar(item.score, parts), reason];
  // Feedback belongs to a developer: computed answers for pasted projects have none.
  if (login) body.push(feedbackButtons(login, name, liked.has(name.toLowerCase())));
  return card(item.project, body, badge);
}

/** What the user starred or owns (their known projects), beside what is recommended. */
function showEvidence(profile) {
  const known = profile.known_projects;
  $("evidence-title").textContent = `What ${profile.login} starred or owns`;
  $("evidence-summary").textContent = known.length
    ? `${plural(known.length, "project", "projects")} the recommendations were made from.`
    : "No known projects: the recommendations come from their profile, or popularity.";
  const item = (project) => el(
    "li",
    { "data-project": project.full_name },
    el("a", { href: projectHash(project.full_name) }, project.full_name),
    facts(project),
  );
  $("known").replaceChildren(...known.map(item));
  const liked = profile.liked.map((name) => el("li", { "data-project": name }, name));
  $("liked").replaceChildren(...liked);
  $("liked-title").hidden = !liked.length;
  $("evidence").hidden = false;
  $("columns").classList.add("with-evidence");
}

function similarCard(item) {
  const width = `${100 * Math.max(0, Math.min(1, item.similarity))}%`;
  const value = item.similarity.toFixed(2);
  const body = [
    el("p", { class: "score" }, "Similarity ", el("strong", { text: value })),
    el(
      "div",
      { class: "bar", role: "img", "aria-label": `Similarity ${value}` },
      el("span", { class: "segment semantic", style: { width } }),
    ),
  ];
  const shared = [...item.shared_categories, ...item.shared_tech_stack];
  if (shared.length) body.push(el("p", { class: "shared", text: `Shares ${shared.join(", ")}.` }));
  return card(item.project, body);
}

/** A term and its values as tags, for the project page; nothing when there are no values. */
function tags(term, values) {
  if (!values?.length) return [];
  const list = el("ul", { class: "tags" }, ...values.map((v) => el("li", { text: v })));
  return [el("dt", { text: term }), el("dd", {}, list)];
}

/** How the scores are made, or a warning when the reported weights do not add up to them. */
function explain(weights, items) {
  const used = COMPONENTS.filter(([key]) => weights[key] > 0);
  // The weights are shares that sum to 1 (the score is their weighted mean): 0.25 / 1.3 is
  // shown as 0.192.
  const formula = used.map(
    ([key, label]) => `${+weights[key].toFixed(3)} × ${label.toLowerCase()}`,
  );
  const sum = (item) => contributions(weights, item.components).reduce((s, p) => s + p.value, 0);
  if (items.some((item) => Math.abs(sum(item) - item.score) > SCORE_TOLERANCE)) {
    // The API reports the weights each user was scored with (cold start, popularity only);
    // results stored by an older version may lack them.
    return "These scores were made with other weights than the service reports, "
      + "so the bars show the reported weights' shares only.";
  }
  return `Score = ${formula.join(" + ")}; the bar shows each part's share.`;
}

async function showUser(login, signal) {
  setView(`Recommendations for ${login}`, "Loading recommendations…");
  if (!LOGIN.test(login)) throw new ApiError(`"${login}" is not a GitHub login. ${LOGIN_RULE}`);
  const path = `/users/${encodeURIComponent(login)}/recommendations`;
  // No limit: the stored ones (a limit past the stored top N would compute more on request).
  const data = await getJSON(path, signal);
  const profile = await getJSON(`/users/${encodeURIComponent(login)}`, signal);
  const items = data.recommendations;
  const liked = new Set(profile.liked.map((name) => name.toLowerCase()));
  const summary = items.length
    ? `${plural(items.length, "project", "projects")}, best first. ${explain(data.weights, items)}`
    : "No projects are recommended to this developer yet.";
  setView(`Recommendations for ${data.login}`, summary);
  const cards = items.map((item) => recommendationCard(item, data.weights, data.login, liked));
  showResults("Recommended projects", cards);
  showEvidence(profile);
}

/** The project names pasted in the form: split on commas and white space, duplicates dropped. */
function pastedNames(text) {
  return [...new Set(text.split(/[\s,]+/).map((name) => name.trim()).filter(Boolean))];
}

const forHash = (names) => `#/for?starred=${encodeURIComponent(names.join(","))}`;

async function showComputed(names, signal) {
  setView("Recommended for these projects", "Computing recommendations…");
  if (!names.length) throw new ApiError("Paste at least one project, as owner/name.");
  const bad = names.find((name) => !FULL_NAME.test(name));
  if (bad) throw new ApiError(`"${bad}" is not a repository name: write it as owner/name.`);
  if (names.length > STARRED_LIMIT) {
    throw new ApiError(`At most ${STARRED_LIMIT} projects, please (${names.length} pasted).`);
  }
  const data = await requestJSON("/recommendations", {
    method: "POST",
    body: { starred: names, limit: RECOMMENDATION_LIMIT },
    signal,
  });
  const items = data.recommendations;
  const known = plural(data.known_projects.length, "known project", "known projects");
  const found = items.length
    ? `${plural(items.length, "project", "projects")} for ${known}, best first. `
      + explain(data.weights, items)
    : `Nothing to recommend for ${known}.`;
  const unknown = data.unknown_projects.length
    ? ` Not in the catalogue, so left out: ${data.unknown_projects.join(", ")}.`
    : "";
  setView("Recommended for these projects", found + unknown);
  $("view-summary").dataset.unknown = data.unknown_projects.join(",");
  showResults("Recommended projects", items.map((item) => recommendationCard(item, data.weights)));
}

async function showProject(owner, repo, signal) {
  setView(`${owner}/${repo}`, "Loading similar projects…");
  if (!LOGIN.test(owner) || !REPOSITORY.test(repo)) {
    throw new ApiError(`"${owner}/${repo}" is not a repository name.`);
  }
  const path = `/projects/${projectPath(`${owner}/${repo}`)}/similar`;
  const data = await getJSON(`${path}?limit=${SIMILAR_LIMIT}`, signal);
  const project = data.project;
  setView(project.full_name, el("a", { href: githubUrl(project), rel: "noopener" }, "On GitHub"));
  const terms = [
    ...tags("Categories", project.categories),
    ...tags("Tech stack", project.tech_stack),
    ...tags("Topics", project.topics),
  ];
  const detail = $("project-detail");
  detail.replaceChildren(
    el("p", { class: "description", text: project.description || "No description." }),
    facts(project),
    el("dl", { class: "terms" }, ...terms),
  );
  detail.hidden = false;
  const heading = data.similar.length ? "Similar projects" : "No similar projects found";
  showResults(heading, data.similar.map(similarCard));
}

function showHome(problem) {
  const hint = "Search for a developer above, or pick one from the list, "
    + "to see the projects recommended to them and why.";
  setView("Find projects for a developer", hint);
  if (problem) showMessage(problem);
}

let routing = null;

/** Render the view the hash names; a newer navigation cancels the requests of an older one. */
async function route({ focus = false } = {}) {
  routing?.abort();
  routing = new AbortController();
  const { signal } = routing;
  let parts;
  const query = new URLSearchParams(location.hash.split("?")[1] ?? "");
  try {
    parts = location.hash.replace(/^#\/?/, "").split("?")[0].split("/").filter(Boolean)
      .map(decodeURIComponent);
  } catch {
    parts = ["?"]; // a malformed escape: treated as an unknown page
  }
  showMessage("");
  feedbackStatus("");
  $("evidence").hidden = true;
  $("columns").classList.remove("with-evidence");
  $("project-detail").hidden = true;
  $("results-title").hidden = true;
  $("results").replaceChildren();
  $("view").setAttribute("aria-busy", "true");
  try {
    if (parts[0] === "users" && parts.length === 2) await showUser(parts[1], signal);
    else if (parts[0] === "for" && parts.length === 1) {
      await showComputed(pastedNames(query.get("starred") ?? ""), signal);
    }
    else if (parts[0] === "projects" && parts.length === 3) {
      await showProject(parts[1], parts[2], signal);
    } else showHome(parts.length ? "There is no such page; search for a developer instead." : "");
  } catch (error) {
    if (error.name === "AbortError") return;
    $("view-summary").textContent = "Nothing to show.";
    const hashOf = parts[0] === "projects" ? projectHash : userHash;
    showMessage(error.message, error.closeMatches ?? [], hashOf);
  } finally {
    if (!signal.aborted) $("view").setAttribute("aria-busy", "false");
  }
  if (focus && !signal.aborted) $("view-title").focus();
}

// The search: debounced look-ups fill the datalist and a list of links to the matching logins.
let searchTimer = 0;
let searching = null;

/** One page of the developers whose login contains the query (every developer without one). */
async function searchUsers(offset = 0) {
  const query = $("user-search").value.trim();
  const status = $("search-status");
  if (!QUERY.test(query)) {
    status.textContent = LOGIN_RULE;
    return;
  }
  searching?.abort();
  searching = new AbortController();
  try {
    const path = `/users?query=${encodeURIComponent(query)}&limit=${USER_LIMIT}&offset=${offset}`;
    const { users, total } = await getJSON(path, searching.signal);
    $("user-options").replaceChildren(...users.map((u) => el("option", { value: u.login })));
    const links = users.map((u) => el("li", {}, el("a", { href: userHash(u.login) }, u.login)));
    $("user-matches").replaceChildren(...links);
    // Which query and page the list answers: a reader (or a test) can tell a stale list.
    $("user-matches").dataset.query = query;
    $("user-matches").dataset.offset = String(offset);
    userOffset = offset;
    $("user-pager").hidden = total <= USER_LIMIT;
    $("users-range").textContent = users.length
      ? `${offset + 1}\u2013${offset + users.length} of ${total}`
      : `none of ${total}`;
    $("users-prev").disabled = offset === 0;
    $("users-next").disabled = offset + users.length >= total;
    if (!total) status.textContent = `No developer matches "${query}".`;
    else if (!query) status.textContent = `${plural(total, "developer", "developers")} with recommendations:`;
    else {
      const matching = plural(total, "developer matches", "developers match");
      status.textContent = `${matching} "${query}":`;
    }
  } catch (error) {
    if (error.name !== "AbortError") status.textContent = error.message;
  }
}

let userOffset = 0;
$("users-prev").addEventListener("click", () => searchUsers(Math.max(0, userOffset - USER_LIMIT)));
$("users-next").addEventListener("click", () => searchUsers(userOffset + USER_LIMIT));

function showTokenState() {
  $("token-status").textContent = apiToken()
    ? "A token is set for this tab: likes and dismissals send it."
    : "No token set: enough unless the server was started with API_TOKEN.";
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const value = $("api-token").value.trim();
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
  $("api-token").value = "";
  showTokenState();
});

$("token-forget").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  $("api-token").value = "";
  showTokenState();
});

function go(hash) {
  if (location.hash === hash) route({ focus: true });
  else location.hash = hash;
}

$("user-search").addEventListener("input", (event) => {
  clearTimeout(searchTimer);
  const value = event.target.value.trim();
  // Picking a datalist entry replaces the whole value: open that developer straight away.
  const picked = !(event instanceof InputEvent) || event.inputType === "insertReplacementText";
  if (picked && [...$("user-options").options].some((o) => o.value === value)) go(userHash(value));
  searchTimer = setTimeout(() => searchUsers(0), SEARCH_DELAY_MS);
});

$("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const login = $("user-search").value.trim();
  if (LOGIN.test(login)) go(userHash(login));
  else $("search-status").textContent = login ? LOGIN_RULE : "Type a login first.";
});

$("projects-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const names = pastedNames($("projects-input").value);
  const status = $("projects-status");
  const bad = names.find((name) => !FULL_NAME.test(name));
  if (!names.length) status.textContent = "Paste a project first, as owner/name.";
  else if (bad) status.textContent = `"${bad}" is not a repository name: write it as owner/name.`;
  else {
    status.textContent = "";
    go(forHash(names));
  }
});

document.querySelector(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  $("view-title").focus();
});

window.addEventListener("hashchange", () => {
  if (!location.hash || location.hash.startsWith("#/")) route({ focus: true });
});

showTokenState();
route();
searchUsers();
