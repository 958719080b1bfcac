import { afterEach, describe, expect, it } from "vitest";

import { BOOT_ELEMENT_ID, DEFAULT_URLS, parseBootData, readBootData } from "./boot";
import { useAppStore } from "./index";

function embedBoot(text: string) {
  const script = document.createElement("script");
  script.id = BOOT_ELEMENT_ID;
  script.type = "application/json";
  script.textContent = text;
  document.body.append(script);
}

afterEach(() => {
  document.getElementById(BOOT_ELEMENT_ID)?.remove();
  useAppStore.setState({ user: null, urls: { ...DEFAULT_URLS } });
});

describe("session boot data", () => {
  it("reads the user and URLs the Django shell embeds and puts them in the store", () => {
    embedBoot(
      JSON.stringify({
        user: { username: "ada", is_staff: true },
        urls: { login: "/accounts/login/", logout: "/accounts/logout/", admin: "/admin/", api_docs: "/api/docs/" },
      }),
    );

    useAppStore.getState().hydrateSession(readBootData());

    const state = useAppStore.getState();
    expect(state.user).toEqual({ username: "ada", is_staff: true });
    expect(state.urls).toEqual({ login: "/accounts/login/", logout: "/accounts/logout/", admin: "/admin/", api_docs: "/api/docs/" });
  });

  it("treats a missing blob as signed out with the default URLs", () => {
    expect(readBootData()).toEqual({ user: null, urls: DEFAULT_URLS });
  });

  it("survives a damaged blob instead of throwing", () => {
    embedBoot("{not json");

    expect(readBootData()).toEqual({ user: null, urls: DEFAULT_URLS });
  });

  it("treats anything but is_staff === true as not staff", () => {
    expect(parseBootData({ user: { username: "bob", is_staff: "yes" } }).user).toEqual({ username: "bob", is_staff: false });
    expect(parseBootData({ user: { username: "" } }).user).toBeNull();
  });

  it("keeps only same-site paths for URLs and falls back per key", () => {
    const boot = parseBootData({
      user: null,
      urls: { logout: "https://elsewhere.example/logout/", admin: "//elsewhere.example/", api_docs: "/docs/" },
    });

    expect(boot.urls).toEqual({ ...DEFAULT_URLS, api_docs: "/docs/" });
  });
});
