// The page's entry point: which view is shown, and who is logged in.
import { showUsers } from "./admin.js";
import { currentUser, setUpAuth } from "./auth.js";
import { Editor } from "./editor.js";
import { Gallery } from "./gallery.js";
import { clearMessages, fail } from "./status.js";

const $ = (id) => document.getElementById(id);
const VIEWS = ["auth-view", "gallery-view", "users-view", "editor-view"];
let me = null;

function show(view) {
  for (const id of VIEWS) $(id).hidden = id !== view;
  $("account").hidden = view === "auth-view";
}

const gallery = new Gallery({ onOpen: (image) => openEditor(image) });
const editor = new Editor({
  onChanged: () => gallery.go(0),
  choices: () => gallery.choices(),
});

async function openEditor(image) {
  show("editor-view");
  try {
    await editor.open(image);
  } catch (error) {
    fail(error);
  }
}

function loggedIn(user) {
  me = user;
  $("who").textContent = `Logged in as ${user.name || user.email}`;
  $("nav-users").hidden = !user.is_admin;
  clearMessages();
  show("gallery-view");
  gallery.go(0);
}

function loggedOut() {
  me = null;
  show("auth-view");
}

setUpAuth({ onLoggedIn: loggedIn, onLoggedOut: loggedOut });
$("nav-gallery").addEventListener("click", () => {
  show("gallery-view");
  gallery.go(gallery.offset);
});
$("nav-users").addEventListener("click", () => {
  show("users-view");
  showUsers(me);
});

currentUser()
  .then((user) => (user ? loggedIn(user) : loggedOut()))
  .catch((error) => {
    loggedOut();
    fail(error);
  });
