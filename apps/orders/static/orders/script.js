// The script path of the sign-on: a Bearer token from the issuer, then plain fetch calls with it.
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("sso-config").textContent);
  const here = encodeURIComponent(window.location.href);

  function show(id, visible) {
    document.getElementById(id).hidden = !visible;
  }

  function setStatus(text) {
    document.getElementById("status").textContent = text;
  }

  // The issuer reads its HttpOnly refresh cookie (credentials: "include") and answers this origin only.
  async function bearerToken() {
    const response = await fetch(config.tokenUrl, { method: "POST", credentials: "include", mode: "cors" });
    if (response.status === 401) {
      return null;
    }
    if (!response.ok) {
      throw new Error("the issuer answered " + response.status);
    }
    return (await response.json()).access;
  }

  // The access token's payload, for display only: the apps verify the signature, this page need not.
  function claims(token) {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload.padEnd(payload.length + ((4 - (payload.length % 4)) % 4), "=")));
  }

  async function getJSON(url, token) {
    // The token only: no cookie is sent (credentials: "omit"), so the apps authenticate the Bearer header.
    const response = await fetch(url, {
      headers: { Authorization: "Bearer " + token, Accept: "application/json" },
      credentials: "omit",
      mode: "cors",
    });
    if (!response.ok) {
      throw new Error(url + " answered " + response.status);
    }
    const body = await response.json();
    return Array.isArray(body) ? body : body.results;
  }

  function fill(listId, items, describe, empty) {
    const list = document.getElementById(listId);
    list.replaceChildren();
    for (const item of items) {
      const li = document.createElement("li");
      li.textContent = describe(item);
      list.append(li);
    }
    if (items.length === 0) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = empty;
      list.append(li);
    }
  }

  async function load() {
    setStatus("Getting a token from the issuer…");
    const token = await bearerToken();
    if (token === null) {
      setStatus("You are not signed in.");
      document.getElementById("sign-in-link").href = config.signInUrl + "?next=" + here;
      show("sign-in", true);
      show("account", false);
      show("results", false);
      return;
    }
    document.getElementById("username").textContent = claims(token).username;
    document.getElementById("sign-out").href = config.signOutUrl + "?next=" + here;
    show("account", true);
    setStatus("Calling orders and products with the token…");
    const [orders, products] = await Promise.all([
      getJSON(config.ordersUrl, token),
      getJSON(config.productsUrl, token),
    ]);
    fill(
      "orders",
      orders,
      (order) => "Order " + order.id + ": " + order.lines.map((l) => l.quantity + " × " + l.sku).join(", ") +
        " (" + order.total + ", " + order.status + ")",
      "No orders yet.",
    );
    fill(
      "products",
      products,
      (product) => product.name + " (" + product.sku + "): " + product.price + ", " + product.stock + " in stock",
      "No products.",
    );
    show("results", true);
    setStatus("Loaded with a Bearer token.");
  }

  function run() {
    load().catch((error) => setStatus("Something went wrong: " + error.message));
  }

  document.getElementById("reload").addEventListener("click", run);
  run();
})();
