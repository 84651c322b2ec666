"""The console's web app in review mode (``vrtherapy serve``): participants -> sessions ->
one session's report, a participant's course over sessions, audited downloads.

It reuses the console's accounts, logins, checks and headers (:mod:`console.security`,
:mod:`console.pages`) and adds its pages as route modules of its own
(:mod:`~console.review.listing`, :mod:`~console.review.session_page`,
:mod:`~console.review.course`). Only the ``clinician`` role may see them. Data come from
the session index (:mod:`engine.review.index`) and, for one session, from its folder,
sealed files decrypted in memory only. See ``docs/review.md``.
"""

from __future__ import annotations
