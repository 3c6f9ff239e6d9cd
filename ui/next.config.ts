import type { NextConfig } from "next";

// A static export: rivetqd serves these files at /ui/, so there is no Node server at runtime.
const nextConfig: NextConfig = {
  output: "export",
  basePath: "/ui",
  trailingSlash: true,
  images: { unoptimized: true },
  reactStrictMode: true,
};

export default nextConfig;
