// The administrator's users view: list, activate/deactivate, grant/revoke admin.
import { api } from "./api.js";
import { fail, say } from "./status.js";

function button(label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

export async function showUsers(me) {
  const body = document.getElementById("users-body");
  try {
    const page = await api("GET", "/users?limit=100");
    body.replaceChildren(...page.items.map((user) => row(user, me, () => showUsers(me))));
  } catch (error) {
    fail(error);
  }
}

function row(user, me, refresh) {
  const tr = document.createElement("tr");
  const cells = [user.email, user.is_active ? "yes" : "no", user.is_admin ? "yes" : "no"];
  for (const text of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.append(td);
  }
  const actions = document.createElement("td");
  const wrap = document.createElement("div");
  wrap.className = "row";
  if (user.id !== me.id) {
    const act = async (method, path, done) => {
      try {
        await api(method, `/users/${user.id}${path}`);
        say(done);
        refresh();
      } catch (error) {
        fail(error);
      }
    };
    const active = user.is_active
      ? button("Deactivate", () => act("POST", "/deactivate", `${user.email} deactivated.`))
      : button("Activate", () => act("POST", "/activate", `${user.email} activated.`));
    const admin = user.is_admin
      ? button("Revoke admin", () => act("DELETE", "/admin", `${user.email} is no longer an admin.`))
      : button("Grant admin", () => act("PUT", "/admin", `${user.email} is now an admin.`));
    active.setAttribute("aria-label", `${active.textContent} ${user.email}`);
    admin.setAttribute("aria-label", `${admin.textContent} ${user.email}`);
    wrap.append(active, admin);
  } else {
    wrap.textContent = "you";
  }
  actions.append(wrap);
  tr.append(actions);
  return tr;
}
