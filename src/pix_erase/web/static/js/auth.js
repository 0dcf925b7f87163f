// Sign up, log in, log out. The session lives in the HttpOnly cookie login sets; the
// page never sees or stores the token.
import { api } from "./api.js";
import { fail, say } from "./status.js";

function values(form) {
  return Object.fromEntries(new FormData(form).entries());
}

export function setUpAuth({ onLoggedIn, onLoggedOut }) {
  const login = document.getElementById("login-form");
  const signup = document.getElementById("signup-form");

  async function logIn(email, password) {
    const result = await api("POST", "/auth/login", { email, password });
    onLoggedIn(result.user);
  }

  login.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { email, password } = values(login);
    try {
      await logIn(email, password);
      login.reset();
    } catch (error) {
      fail(error);
    }
  });

  signup.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { email, password, name } = values(signup);
    try {
      await api("POST", "/auth/signup", { email, password, name: name || null });
      await logIn(email, password);
      signup.reset();
      say("Welcome! Your account is ready.");
    } catch (error) {
      fail(error);
    }
  });

  document.getElementById("logout").addEventListener("click", async () => {
    try {
      await api("POST", "/auth/logout");
    } catch (error) {
      if (error.status !== 401) return fail(error);
    }
    onLoggedOut();
    say("You are logged out.");
  });
}

export async function currentUser() {
  try {
    return await api("GET", "/auth/me");
  } catch (error) {
    if (error.status === 401) return null;
    throw error;
  }
}
