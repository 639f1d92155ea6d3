// The anti-robot check (« Je ne suis pas un robot »): solves the page's proof of work
// (web/anti_robot.rs) with Web Crypto and fills the hidden `altcha` field, so the question for
// visitors without JavaScript is not needed. Its messages start with the guide's words (002 §3.1,
// « Je ne suis pas un robot »), which people look for on the page. Served from the provider: the
// CSP stays 'self'.
(function () {
  "use strict";
  var box = document.getElementById("anti-robot");
  if (!box || !window.crypto || !window.crypto.subtle || !window.TextEncoder) {
    return;
  }
  var field = document.getElementById("altcha");
  var question = document.getElementById("anti-robot-question");
  var status = document.getElementById("anti-robot-status");
  var form = box.closest("form");
  var data = box.dataset;
  var max = parseInt(data.maxNumber, 10);
  var encoder = new TextEncoder();
  var solved = false;
  var waiting = false;
  var BATCH = 500;

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

  status.textContent = "Je ne suis pas un robot : vérification en cours…";
  search(0).then(function (number) {
    if (number === null) {
      status.textContent = "";
      return;
    }
    field.value = btoa(
      JSON.stringify({
        algorithm: data.algorithm,
        challenge: data.challenge,
        number: number,
        salt: data.salt,
        signature: data.signature,
      })
    );
    solved = true;
    question.hidden = true;
    status.textContent = "Je ne suis pas un robot : vérification effectuée.";
    if (waiting) {
      if (form.requestSubmit) {
        form.requestSubmit();
      } else {
        form.submit();
      }
    }
  }, function () {
    status.textContent = "";
  });

  // Submitted before the search ends and without an answer: send once it is found.
  form.addEventListener("submit", function (event) {
    var answered = document.getElementById("robot_answer").value.trim() !== "";
    if (!solved && !answered) {
      event.preventDefault();
      waiting = true;
      status.textContent = "Je ne suis pas un robot : vérification en cours, veuillez patienter…";
    }
  });
})();
