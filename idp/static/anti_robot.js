// The anti-robot check (« Je ne suis pas un robot », guide 002 §3.1): the guide shows a box to
// tick. Ticking it solves the page's proof of work (web/anti_robot.rs) with Web Crypto and fills
// the hidden `altcha` field, so the question for visitors without JavaScript is not needed; it
// is hidden here and shown again if the proof cannot be found. Its messages start with the
// guide's words, which people look for on the page. Served from the provider: the CSP stays
// 'self'.
(function () {
  "use strict";
  var box = document.getElementById("anti-robot");
  if (!box || !window.crypto || !window.crypto.subtle || !window.TextEncoder) {
    return;
  }
  var field = document.getElementById("altcha");
  var question = document.getElementById("anti-robot-question");
  var answer = document.getElementById("robot_answer");
  var group = document.getElementById("anti-robot-check");
  var tick = document.getElementById("robot_check");
  var status = document.getElementById("anti-robot-status");
  var form = box.closest("form");
  var data = box.dataset;
  var max = parseInt(data.maxNumber, 10);
  var encoder = new TextEncoder();
  var solution = null;
  var started = false;
  var waiting = false;
  var BATCH = 500;
  var DONE = "Je ne suis pas un robot : vérification effectuée.";

  function hex(buffer) {
    return Array.from(new Uint8Array(buffer), function (b) {
      return b.toString(16).padStart(2, "0");
    }).join("");
  }

  function digest(n) {
    return window.crypto.subtle
      .digest("SHA-256", encoder.encode(data.salt + n))
      .then(function (h) {
        return hex(h) === data.challenge ? n : null;
      });
  }

  // Batches of parallel digests: fast, and the page stays responsive.
  function search(start) {
    if (start > max) {
      return Promise.resolve(null);
    }
    var batch = [];
    for (var n = start; n <= max && n < start + BATCH; n++) {
      batch.push(digest(n));
    }
    return Promise.all(batch).then(function (found) {
      for (var i = 0; i < found.length; i++) {
        if (found[i] !== null) {
          return found[i];
        }
      }
      return search(start + BATCH);
    });
  }

  function say(text, error) {
    status.textContent = text;
    status.classList.toggle("fr-error-text", !!error);
    group.classList.toggle("fr-checkbox-group--error", !!error);
  }

  // No proof found (or Web Crypto failed): the question again, as without JavaScript.
  function fallBack() {
    group.hidden = true;
    question.hidden = false;
    say("", false);
  }

  function solve() {
    if (started) {
      return;
    }
    started = true;
    say("Je ne suis pas un robot : vérification en cours…", false);
    search(0).then(function (number) {
      if (number === null) {
        fallBack();
        return;
      }
      solution = btoa(
        JSON.stringify({
          algorithm: data.algorithm,
          challenge: data.challenge,
          number: number,
          salt: data.salt,
          signature: data.signature,
        })
      );
      if (!tick.checked) {
        return;
      }
      field.value = solution;
      say(DONE, false);
      if (waiting) {
        if (form.requestSubmit) {
          form.requestSubmit();
        } else {
          form.submit();
        }
      }
    }, fallBack);
  }

  group.hidden = false;
  question.hidden = true;
  tick.addEventListener("change", function () {
    if (!tick.checked) {
      field.value = "";
      waiting = false;
      say("", false);
      return;
    }
    if (solution !== null) {
      field.value = solution;
      say(DONE, false);
    } else {
      solve();
    }
  });

  // Not ticked: say so at the box. Ticked but still searching: send once it is found.
  form.addEventListener("submit", function (event) {
    if (field.value !== "" || (!question.hidden && answer.value.trim() !== "")) {
      return;
    }
    event.preventDefault();
    if (!tick.checked) {
      say("Cochez la case « Je ne suis pas un robot » pour continuer.", true);
      tick.focus();
      return;
    }
    waiting = true;
    say("Je ne suis pas un robot : vérification en cours, veuillez patienter…", false);
  });
})();
