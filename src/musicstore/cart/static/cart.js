// The cart's pages: quantities change in place, and the card form formats while typing.
// Everything here is an enhancement: without JavaScript the plain forms still work.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var tokenMeta = document.querySelector('meta[name="csrf-token"]');

  function postJson(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-CSRFToken": tokenMeta ? tokenMeta.content : ""
      },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    });
  }

  function showStatus(message) {
    var status = document.getElementById("cart-status");
    if (!status) { return; }
    status.textContent = message || "";
    status.hidden = !message;
  }

  function renderCart(cart) {
    if (!cart.items.length) { window.location.reload(); return; }
    var byId = {};
    cart.items.forEach(function (item) { byId[item.album_id] = item; });
    document.querySelectorAll(".cart-line").forEach(function (row) {
      var item = byId[row.dataset.albumId];
      if (!item) { row.remove(); return; }
      row.querySelector(".line-total").textContent = "$" + item.line_total;
      var input = row.querySelector('input[name="quantity"]');
      input.value = item.quantity;
      input.defaultValue = String(item.quantity);
    });
    document.getElementById("cart-total").textContent = "$" + cart.total;
    document.getElementById("cart-count").textContent = String(cart.count);
  }

  function send(form, body, row, input) {
    row.classList.add("updating");
    postJson(form.action, body).then(function (result) {
      if (result.ok) {
        showStatus("");
        renderCart(result.data);
      } else {
        showStatus(result.data.error || "That change did not go through.");
        if (input) { input.value = input.defaultValue; }
      }
    }).catch(function () {
      showStatus("We could not reach the cart. Please try again.");
    }).then(function () { row.classList.remove("updating"); });
  }

  document.querySelectorAll(".cart-line").forEach(function (row) {
    var albumId = Number(row.dataset.albumId);
    var quantityForm = row.querySelector(".quantity-form");
    var input = quantityForm.querySelector('input[name="quantity"]');
    function update(event) {
      if (event) { event.preventDefault(); }
      var value = input.value.trim();
      if (value === "") { return; }  // still typing (or cleared): wait for a number
      if (!/^\d+$/.test(value)) {
        showStatus("Enter a whole number of copies.");
        input.value = input.defaultValue;
        return;
      }
      send(quantityForm, { album_id: albumId, quantity: Number(value) }, row, input);
    }
    input.addEventListener("change", update);
    quantityForm.addEventListener("submit", update);
    var removeForm = row.querySelector(".remove-form");
    removeForm.addEventListener("submit", function (event) {
      event.preventDefault();
      send(removeForm, { album_id: albumId }, row, null);
    });
  });

  function formatter(id, format) {
    var field = document.getElementById(id);
    if (field) { field.addEventListener("input", function () { field.value = format(field.value); }); }
  }

  // Card number: digits in groups of four. Expiry: MM/YY. CVV: up to four digits.
  formatter("card_number", function (value) {
    return value.replace(/\D/g, "").slice(0, 19).replace(/(\d{4})(?=\d)/g, "$1 ");
  });
  formatter("expiry", function (value) {
    var digits = value.replace(/\D/g, "").slice(0, 4);
    return digits.length > 2 ? digits.slice(0, 2) + "/" + digits.slice(2) : digits;
  });
  formatter("cvv", function (value) { return value.replace(/\D/g, "").slice(0, 4); });

  var paymentForm = document.getElementById("payment-form");
  if (paymentForm) {
    paymentForm.addEventListener("submit", function () {
      var button = document.getElementById("pay-button");
      // One click, one submission; the server also makes a repeat harmless (idempotency key).
      window.setTimeout(function () { button.disabled = true; button.textContent = "Processing…"; }, 0);
    });
  }

  // The back button may show a page from the browser's page cache (e.g. the checkout after paying, its
  // button stuck on "Processing…"); fetch it again so it shows the cart as it is now.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) { window.location.reload(); }
  });
})();
