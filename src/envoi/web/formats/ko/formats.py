# "2026. 12. 6. 오후 2:23", as Korean software writes dates (minutes always two digits).
DATE_FORMAT = "Y년 n월 j일"
SHORT_DATE_FORMAT = "Y. n. j."
DATETIME_FORMAT = "Y년 n월 j일 A g:i"
SHORT_DATETIME_FORMAT = "Y. n. j. A g:i"
TIME_FORMAT = "A g:i"
