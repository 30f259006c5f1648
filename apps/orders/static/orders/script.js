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

  // An app that refuses the token (401: it is not among the token's audiences; 403: not allowed there).
  class Refused extends Error {
    constructor(app, status) {
      super(app + " answered " + status);
      this.app = app;
      this.status = status;
    }
  }

  async function getJSON(url, token, app) {
    // The token only: no cookie is sent (credentials: "omit"), so the apps authenticate the Bearer header.
    const response = await fetch(url, {
      headers: { Authorization: "Bearer " + token, Accept: "application/json" },
      credentials: "omit",
      mode: "cors",
    });
    if (response.status === 401 || response.status === 403) {
      throw new Refused(app, response.status);
    }
    if (!response.ok) {
      throw new Error(url + " answered " + response.status);
    }
    const body = await response.json();
    return Array.isArray(body) ? body : body.results;
  }

  // Who you are, what you may not do, and where you can go: the issuer's "No access to ..." page, in here.
  function showRefusal(username, refused) {
    const article = document.createElement("article");
    const title = document.createElement("h2");
    title.className = "refusal-title";
    title.textContent = "No access to " + refused.app;
    const message = document.createElement("p");
    message.textContent = "You are signed in as " + username + ", but your account may not use " + refused.app +
      ", so it is not listed here. Ask an administrator for access. ";
    const home = document.createElement("a");
    home.href = config.issuerHome;
    home.textContent = "Your apps at the sign-on home";
    message.append(home);
    article.append(title, message);
    document.getElementById("refusals").append(article);
    show("refusals", true);
  }

  // A list, or null (and a refusal shown) when the app refuses this person.
  async function listOrRefusal(url, token, app, username) {
    try {
      return await getJSON(url, token, app);
    } catch (error) {
      if (error instanceof Refused) {
        showRefusal(username, error);
        return null;
      }
      throw error;
    }
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
    const username = claims(token).username;
    document.getElementById("username").textContent = username;
    document.getElementById("sign-out").href = config.signOutUrl + "?next=" + here;
    show("account", true);
    setStatus("Calling orders and products with the token…");
    document.getElementById("refusals").replaceChildren();
    show("refusals", false);
    const [orders, products] = await Promise.all([
      listOrRefusal(config.ordersUrl, token, "Orders", username),
      listOrRefusal(config.productsUrl, token, "Products", username),
    ]);
    show("orders-section", orders !== null);
    show("products-section", products !== null);
    fill(
      "orders",
      orders || [],
      (order) => "Order " + order.id + ": " + order.lines.map((l) => l.quantity + " × " + l.sku).join(", ") +
        " (" + order.total + ", " + order.status + ")",
      "No orders yet.",
    );
    fill(
      "products",
      products || [],
      (product) => product.name + " (" + product.sku + "): " + product.price + ", " + product.stock + " in stock",
      "No products.",
    );
    show("results", true);
    setStatus(orders !== null && products !== null ? "Loaded with a Bearer token." : "Loaded what your account may see.");
  }

  function run() {
    load().catch((error) => setStatus("Something went wrong: " + error.message));
  }

  document.getElementById("reload").addEventListener("click", run);
  run();
})();
