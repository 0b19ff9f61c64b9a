-- Databases of the scale-out profile (deploy/compose.yml).
CREATE DATABASE rasa;
CREATE DATABASE desk;
