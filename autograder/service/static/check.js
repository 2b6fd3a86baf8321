// The upload page: send the chosen notebook to the API, then poll its check until graded.
// Everything the service returns is written into the page as text (textContent), never as
// HTML: a learner's text in a test message stays text. Addresses are relative to the page
// (the service may run under a prefix, as a JupyterHub service does).
"use strict";

(function () {
  const form = document.getElementById("check-form");
  const status = document.getElementById("status");
  const result = document.getElementById("result");
  const POLL_MS = 1000;

  function say(text) {
    status.textContent = text;
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
  }

  function show(check, fileName) {
    document.getElementById("result-file").textContent = fileName;
    const score = document.getElementById("score");
    if (check.score === null) {
      score.textContent = "Not graded: " + check.flags.join("; ");
    } else {
      score.textContent = "Score: " + check.score + " / " + check.max_score;
    }
    const body = document.querySelector("#tests tbody");
    body.replaceChildren();
    for (const test of check.tests) {
      const row = document.createElement("tr");
      const passed = test.points >= test.max_points;
      cell(row, test.name, passed ? "pass" : "fail");
      cell(row, test.points + " / " + test.max_points);
      cell(row, test.message);
      body.appendChild(row);
    }
    const flags = document.getElementById("flags");
    flags.replaceChildren();
    for (const flag of check.flags) {
      const item = document.createElement("li");
      item.textContent = flag;
      flags.appendChild(item);
    }
    result.hidden = false;
  }

  // The credential of each request: the learner's token, or on a hub (no token field) the
  // hub's sign-in cookie, which the browser sends itself, with the hub's XSRF token.
  function credentials(token) {
    if (token !== null) return {Authorization: "token " + token};
    return {"X-XSRFToken": document.getElementById("xsrf").value};
  }

  async function poll(id, token, fileName) {
    for (;;) {
      const reply = await fetch("api/checks/" + encodeURIComponent(id), {
        headers: credentials(token),
        credentials: "same-origin",
      });
      const check = await reply.json();
      if (!reply.ok) {
        say(check.error || "The service did not answer: try again.");
        return;
      }
      if (check.status === "queued") {
        say("Queued: " + check.position + " check(s) ahead of yours.");
      } else if (check.status === "running") {
        say("Grading your notebook…");
      } else {
        say(check.status === "done" ? "Graded." : "Not graded.");
        show(check, fileName);
        return;
      }
      await new Promise(function (done) { setTimeout(done, POLL_MS); });
    }
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    result.hidden = true;
    const field = document.getElementById("token");
    const token = field ? field.value.trim() : null;
    const assignment = document.getElementById("assignment").value;
    const file = document.getElementById("notebook").files[0];
    if (!file) {
      say("Choose your notebook (.ipynb) first.");
      return;
    }
    say("Sending " + file.name + "…");
    try {
      const reply = await fetch("api/checks?assignment=" + encodeURIComponent(assignment), {
        method: "POST",
        headers: Object.assign(credentials(token), {"Content-Type": "application/x-ipynb+json"}),
        credentials: "same-origin",
        body: await file.arrayBuffer(),
      });
      const answer = await reply.json();
      if (reply.status !== 202) {
        say(answer.error || "The service refused the notebook.");
        return;
      }
      await poll(answer.id, token, file.name);
    } catch (error) {
      say("The service could not be reached: " + error.message);
    }
  });
})();
