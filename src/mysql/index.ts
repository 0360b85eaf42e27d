// The pure part of the MySQL layer: GTID set algebra, my.cnf generation, users and plugins.
export * from "./gtid.ts";
export * from "./mycnf.ts";
export * from "./users.ts";
