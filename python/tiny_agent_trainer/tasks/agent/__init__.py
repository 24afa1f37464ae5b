"""The grid-world agent task: the gold-finding game (`game`), its pictures (`render`), the
training frameworks that turn scenes into questions, answers and target pictures
(`frameworks`), and the evaluation harness (`evaluate`)."""
