-- The databases of cart and orders, for deployments that run them on PostgreSQL (the scaled overlay).
CREATE DATABASE carts OWNER music_user;
CREATE DATABASE orders OWNER music_user;
