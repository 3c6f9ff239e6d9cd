import type { Metadata } from "next";
import Link from "next/link";
import type { ReactNode } from "react";
import { AuthGate } from "@/components/AuthGate";
import { SignOut } from "@/components/SignOut";
import "./globals.css";

export const metadata: Metadata = {
  title: "RivetQ",
  description: "RivetQ admin: queues, jobs and the dead letter queue",
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body className="min-h-screen bg-slate-50 text-slate-900 antialiased">
        <header className="bg-slate-900">
          <div className="mx-auto flex h-14 max-w-7xl items-center justify-between px-4 sm:px-6">
            <Link href="/" className="flex items-center gap-2 text-white">
              <span className="grid h-7 w-7 place-items-center rounded-md bg-indigo-500 text-sm font-bold">R</span>
              <span className="font-semibold tracking-tight">RivetQ</span>
            </Link>
            <nav className="flex items-center gap-4 text-sm text-slate-300">
              <Link href="/" className="hover:text-white">
                Queues
              </Link>
              <Link href="/schedules/" className="hover:text-white">
                Schedules
              </Link>
              <a href="/docs" className="hover:text-white">
                API docs
              </a>
              <SignOut />
            </nav>
          </div>
        </header>
        <main className="mx-auto max-w-7xl px-4 py-8 sm:px-6">
          <AuthGate>{children}</AuthGate>
        </main>
      </body>
    </html>
  );
}
